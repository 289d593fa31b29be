"""Who may read and write post-mortems and action items. A post-mortem follows its incident's
visibility: a restricted incident's post-mortem and items are seen only by those who may see the
incident. Views compute these once for the template; services check them again (the API and the
timers call services directly)."""

from accounts.guards import has_role_perm
from incidents.permissions import visible_incidents
from postmortems.models import ActionItem, Postmortem

VIEW = "postmortems.view_postmortem"
WRITE = "postmortems.change_postmortem"
VIEW_ITEMS = "postmortems.view_actionitem"
WRITE_ITEMS = "postmortems.change_actionitem"


def can_view(user) -> bool:
    return has_role_perm(user, VIEW)


def can_write(user) -> bool:
    """Edit the sections, choose the level, redraft, ask for review, publish and correct."""
    return has_role_perm(user, WRITE)


def can_write_items(user) -> bool:
    return has_role_perm(user, WRITE_ITEMS)


def can_update_item(user, item: ActionItem) -> bool:
    """Responders update any item; its owner updates their own, whatever their role."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return can_write_items(user) or (item.owner_id is not None and item.owner_id == user.pk)


def visible_postmortems(user, queryset=None):
    queryset = Postmortem.objects.all() if queryset is None else queryset
    if not can_view(user):
        return queryset.none()
    return queryset.filter(incident__in=visible_incidents(user).values("pk"))


def visible_items(user, queryset=None):
    queryset = ActionItem.objects.all() if queryset is None else queryset
    if not has_role_perm(user, VIEW_ITEMS):
        return queryset.none()
    return queryset.filter(incident__in=visible_incidents(user).values("pk"))
