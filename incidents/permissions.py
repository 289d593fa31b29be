"""Who may see and change incidents. Views, the API and commands ask only this module."""

from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from guardian.shortcuts import assign_perm

from accounts.guards import has_role_perm
from config.db import hot_cursor
from incidents.models import (
    Alert,
    EntryKind,
    Incident,
    IncidentGroupObjectPermission,
    IncidentUserObjectPermission,
)

VIEW = "incidents.view_incident"
DECLARE = "incidents.add_incident"
CHANGE = "incidents.change_incident"
VIEW_ALL_RESTRICTED = "incidents.view_all_restricted"
CORRECT_MILESTONES = "incidents.correct_milestones"


def visible_incidents(user, queryset=None):
    """Incidents this user may see: unrestricted ones, plus restricted ones granted to the user or
    to one of the user's teams (groups), or all of them for auditors and admins."""
    queryset = Incident.objects.all() if queryset is None else queryset
    if not has_role_perm(user, VIEW):
        return queryset.none()
    if user.has_perm(VIEW_ALL_RESTRICTED):
        return queryset
    by_user = IncidentUserObjectPermission.objects.filter(
        user=user, permission__codename="view_incident"
    ).values("content_object_id")
    by_group = IncidentGroupObjectPermission.objects.filter(
        group__user=user, permission__codename="view_incident"
    ).values("content_object_id")
    return queryset.filter(Q(restricted=False) | Q(pk__in=by_user) | Q(pk__in=by_group))


def visible_alerts(user, queryset=None):
    """These alerts less those of restricted incidents hidden from this user: an alert tells as
    much as its incident. Also for other rows with a nullable `incident` key (webhook
    deliveries). Alerts of no incident stay visible."""
    queryset = Alert.objects.all() if queryset is None else queryset
    restricted = Incident.objects.filter(restricted=True)
    hidden = restricted.exclude(pk__in=visible_incidents(user, restricted).values("pk"))
    return queryset.exclude(incident__in=hidden.values("pk"))


_POLL_STATE_SQL = """
WITH held AS (
    SELECT p.codename FROM {permission} p
    JOIN {content_type} ct ON ct.id = p.content_type_id AND ct.app_label = 'incidents'
    WHERE p.codename IN ('view_incident', 'view_all_restricted')
      AND (EXISTS (SELECT 1 FROM {user_permission} up
                   WHERE up.user_id = %(user)s AND up.permission_id = p.id)
           OR EXISTS (SELECT 1 FROM {group_permission} gp
                      JOIN {user_group} ug ON ug.group_id = gp.group_id
                      WHERE ug.user_id = %(user)s AND gp.permission_id = p.id))
)
SELECT i.timeline_seq, i.status FROM {incident} i
WHERE i.id = %(number)s
  AND (%(superuser)s OR EXISTS (SELECT 1 FROM held WHERE codename = 'view_incident'))
  AND (%(superuser)s OR NOT i.restricted
       OR EXISTS (SELECT 1 FROM held WHERE codename = 'view_all_restricted')
       OR EXISTS (SELECT 1 FROM {user_object} o JOIN {permission} p ON p.id = o.permission_id
                  WHERE o.content_object_id = i.id AND o.user_id = %(user)s
                    AND p.codename = 'view_incident')
       OR EXISTS (SELECT 1 FROM {group_object} o JOIN {permission} p ON p.id = o.permission_id
                  JOIN {user_group} ug ON ug.group_id = o.group_id
                  WHERE o.content_object_id = i.id AND ug.user_id = %(user)s
                    AND p.codename = 'view_incident'))
"""


def _poll_state_sql() -> str:
    tables = {
        "permission": Permission, "content_type": ContentType, "incident": Incident,
        "user_permission": User.user_permissions.through, "user_group": User.groups.through,
        "group_permission": Group.permissions.through,
        "user_object": IncidentUserObjectPermission,
        "group_object": IncidentGroupObjectPermission,
    }
    return _POLL_STATE_SQL.format(**{name: connection.ops.quote_name(model._meta.db_table)
                                     for name, model in tables.items()})


def poll_state(user, number) -> tuple[int, str] | None:
    """(timeline_seq, status) of the incident if this user may see it, else None.

    The same rule as visible_incidents (and user.has_perm for the two permissions), in one small
    prepared statement, for the idle poll every open incident page sends every few seconds:
    has_perm would load the user's whole permission set in two queries first, and planning this
    query costs more than running it. tests/incidents/test_visibility.py checks both agree
    for every role and grant."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_active:
        return None
    try:
        number = int(number)
    except (TypeError, ValueError):
        return None
    with hot_cursor() as cursor:
        cursor.execute(_poll_state_sql(), {"user": user.pk, "number": number,
                                           "superuser": bool(user.is_superuser)})
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def get_visible_incident(user, number, queryset=None) -> Incident:
    """The incident, or 404 whether it does not exist or is hidden from this user."""
    try:
        return visible_incidents(user, queryset).get(pk=int(number))
    except (Incident.DoesNotExist, ValueError, TypeError):
        raise Http404("No such incident.") from None


def can_view(user, incident: Incident) -> bool:
    return visible_incidents(user).filter(pk=incident.pk).exists()


def hidden_ids(user, ids) -> set[int]:
    """Those of these incident ids that this user may not see."""
    ids = {int(i) for i in ids if i is not None}
    if not ids:
        return set()
    return ids - set(visible_incidents(user).filter(pk__in=ids).values_list("pk", flat=True))


def visible_flag(user, outer_ref: str):
    """An annotation: True where the incident named by `outer_ref` is visible to this user."""
    return Exists(visible_incidents(user).filter(pk=OuterRef(outer_ref)))


# Timeline entries that name another incident, and the data key naming it.
LINKED_INCIDENT = {EntryKind.MERGED_INTO: "into", EntryKind.MERGE_RECEIVED: "from"}


def hide_unseen_links(user, entries) -> list:
    """Mark the entries that name an incident hidden from this user (`entry.hides_link`): they
    are shown as "a restricted incident", without its number, title or note. Entries are
    immutable and hash-chained, so the record keeps the names; only what is shown changes."""
    entries = list(entries)
    linked = {e.pk: e.data.get(LINKED_INCIDENT[e.kind]) for e in entries
              if e.kind in LINKED_INCIDENT}
    hidden = hidden_ids(user, linked.values())
    for entry in entries:
        entry.hides_link = entry.pk in linked and (linked[entry.pk] in hidden
                                                   or linked[entry.pk] is None)
    return entries


def can_declare(user) -> bool:
    return has_role_perm(user, DECLARE)


def can_edit(user, incident: Incident | None = None) -> bool:
    return has_role_perm(user, CHANGE)


def can_correct_milestones(user, incident: Incident) -> bool:
    if not can_edit(user, incident):
        return False
    return incident.commander_id == user.pk or user.has_perm(CORRECT_MILESTONES)


def grant_view(incident: Incident, *, user=None, group=None) -> None:
    assign_perm("view_incident", user or group, incident)


MANAGE_INTAKE = "incidents.change_integration"


def can_view_intake(user) -> bool:
    return has_role_perm(user, "incidents.view_integration")


def can_manage_intake(user) -> bool:
    """Services, integrations, rules, maintenance windows, heartbeats and webhooks."""
    return has_role_perm(user, MANAGE_INTAKE)


VIEW_AUDIT_LOG = "incidents.view_auditentry"


def can_view_audit_log(user) -> bool:
    """The audit log, and the evidence bundles that carry its entries: Auditors and Admins."""
    return has_role_perm(user, VIEW_AUDIT_LOG)
