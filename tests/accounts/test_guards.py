"""Role guards agree: a role counts only for a signed-in, active user, in every app."""

import pytest
from django.contrib.auth.models import AnonymousUser, User

from accounts.guards import has_role_perm
from incidents import permissions as incident_permissions
from oncall import permissions as oncall_permissions

ROLE_GUARDS = [
    oncall_permissions.can_view,
    oncall_permissions.can_override,
    incident_permissions.can_declare,
    incident_permissions.can_edit,
    incident_permissions.can_view_intake,
    incident_permissions.can_manage_intake,
]


def fresh(user):
    return User.objects.get(pk=user.pk)  # has_perm caches per user object


def test_has_role_perm_needs_the_permission(responder, auditor):
    assert has_role_perm(fresh(responder), "incidents.add_incident") is True
    assert has_role_perm(fresh(auditor), "incidents.add_incident") is False


def test_has_role_perm_refuses_nobody_and_anonymous():
    assert has_role_perm(None, "incidents.view_incident") is False
    assert has_role_perm(AnonymousUser(), "incidents.view_incident") is False


@pytest.mark.parametrize("guard", ROLE_GUARDS, ids=lambda g: f"{g.__module__}.{g.__name__}")
def test_every_role_guard_lets_an_active_responder_in(guard, responder):
    assert guard(fresh(responder)) is True


@pytest.mark.parametrize("guard", ROLE_GUARDS, ids=lambda g: f"{g.__module__}.{g.__name__}")
def test_every_role_guard_refuses_an_inactive_user(guard, responder):
    User.objects.filter(pk=responder.pk).update(is_active=False)
    assert guard(fresh(responder)) is False


@pytest.mark.parametrize("guard", ROLE_GUARDS, ids=lambda g: f"{g.__module__}.{g.__name__}")
def test_every_role_guard_refuses_an_outsider(guard, outsider):
    assert guard(fresh(outsider)) is False


def test_the_on_call_guard_exists_once():
    assert not hasattr(incident_permissions, "can_view_oncall")
