"""Who may see and change incidents. Views, the API and commands ask only this module."""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.http import Http404
from guardian.shortcuts import assign_perm

from incidents.models import (
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
    if user is None or isinstance(user, AnonymousUser) or not user.is_active:
        return queryset.none()
    if not user.has_perm(VIEW):
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


def get_visible_incident(user, number, queryset=None) -> Incident:
    """The incident, or 404 whether it does not exist or is hidden from this user."""
    try:
        return visible_incidents(user, queryset).get(pk=int(number))
    except (Incident.DoesNotExist, ValueError, TypeError):
        raise Http404("No such incident.") from None


def can_declare(user) -> bool:
    return user.is_authenticated and user.has_perm(DECLARE)


def can_edit(user, incident: Incident | None = None) -> bool:
    return user.is_authenticated and user.has_perm(CHANGE)


def can_correct_milestones(user, incident: Incident) -> bool:
    if not can_edit(user, incident):
        return False
    return incident.commander_id == user.pk or user.has_perm(CORRECT_MILESTONES)


def grant_view(incident: Incident, *, user=None, group=None) -> None:
    assign_perm("view_incident", user or group, incident)


MANAGE_INTAKE = "incidents.change_integration"


def can_view_intake(user) -> bool:
    return user.is_authenticated and user.has_perm("incidents.view_integration")


def can_manage_intake(user) -> bool:
    """Services, integrations, rules, maintenance windows, heartbeats and webhooks."""
    return user.is_authenticated and user.has_perm(MANAGE_INTAKE)


def can_view_oncall(user) -> bool:
    return user.is_authenticated and user.has_perm("oncall.view_schedule")
