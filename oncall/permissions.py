"""Who may see and change on-call data. Views ask only this module."""

from accounts.guards import has_role_perm
from oncall.models import EscalationPolicy, Schedule, Team

VIEW = "oncall.view_schedule"
OVERRIDE = "oncall.add_override"
# Admins change any team's configuration; responders only their own teams'.
CHANGE_ANY = {Schedule: "oncall.change_schedule",
              EscalationPolicy: "oncall.change_escalationpolicy"}


def can_view(user) -> bool:
    return has_role_perm(user, VIEW)


def can_override(user) -> bool:
    """Create overrides and take swaps: responders and admins, never auditors."""
    return can_view(user) and has_role_perm(user, OVERRIDE)


def editable_teams(user, model):
    """The teams whose schedules (or policies: `model`) the user may edit: every team with the
    model's change permission, else the teams of a responder's own groups."""
    if not can_view(user):
        return Team.objects.none()
    if has_role_perm(user, CHANGE_ANY[model]):
        return Team.objects.all()
    if not can_override(user):
        return Team.objects.none()
    return Team.objects.filter(group__in=user.groups.all())


def can_create(user, model) -> bool:
    return editable_teams(user, model).exists()


def can_edit(user, obj) -> bool:
    """Edit a schedule or a policy: its team's responders, and admins (also for one with no
    team)."""
    model = type(obj)
    if has_role_perm(user, CHANGE_ANY[model]) and can_view(user):
        return True
    return obj.team_id is not None and editable_teams(user, model).filter(
        pk=obj.team_id).exists()
