"""Who may see and change on-call data. Views ask only this module."""

from accounts.guards import has_role_perm

VIEW = "oncall.view_schedule"
OVERRIDE = "oncall.add_override"


def can_view(user) -> bool:
    return has_role_perm(user, VIEW)


def can_override(user) -> bool:
    """Create overrides and take swaps: responders and admins, never auditors."""
    return can_view(user) and has_role_perm(user, OVERRIDE)
