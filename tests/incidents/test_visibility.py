"""incidents.permissions: who sees which incidents, and who may change them."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Incident, Status
from incidents.permissions import (
    can_correct_milestones,
    can_edit,
    get_visible_incident,
    poll_state,
    visible_incidents,
)
from tests.conftest import declare, make_team, make_user


def fresh(user):
    """The user re-read, as the next request sees it (permission caches live on the instance)."""
    return User.objects.get(pk=user.pk)


def sees(user, incident) -> bool:
    """Whether the user sees the incident; the idle poll's one-query check must agree."""
    listed = visible_incidents(fresh(user)).filter(pk=incident.pk).exists()
    assert (poll_state(fresh(user), incident.pk) is not None) is listed
    return listed


@pytest.fixture
def declarer(db):
    return make_user("sec-oncall", "Responders")


@pytest.fixture
def secret(declarer):
    """Restricted, declared by someone who is none of the personas."""
    return declare(by=declarer, title="Credential stuffing", restricted=True)


# --- unrestricted ------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["commander", "responder", "csm", "auditor", "admin_user"])
def test_unrestricted_incident_is_visible_to_every_role(persona, incident, request):
    user = request.getfixturevalue(persona)
    assert list(visible_incidents(fresh(user))) == [incident]


def test_outsider_sees_nothing(incident, restricted_incident, outsider):
    assert list(visible_incidents(fresh(outsider))) == []
    assert visible_incidents(fresh(outsider)).count() == 0


@pytest.mark.parametrize("anonymous", [None, AnonymousUser()], ids=["none", "anonymous"])
def test_anonymous_sees_nothing(anonymous, incident):
    assert list(visible_incidents(anonymous)) == []


def test_inactive_user_sees_nothing(incident, responder):
    responder.is_active = False
    responder.save()
    assert list(visible_incidents(fresh(responder))) == []


@pytest.mark.parametrize("persona", ["commander", "responder", "csm", "auditor", "admin_user",
                                     "outsider"])
def test_poll_state_agrees_with_the_list_for_every_role(persona, incident, restricted_incident,
                                                         request):
    user = fresh(request.getfixturevalue(persona))
    for each in (incident, restricted_incident):
        listed = visible_incidents(user).filter(pk=each.pk).exists()
        state = poll_state(user, each.pk)
        assert (state is not None) is listed
        if state is not None:
            assert state == (each.timeline_seq, each.status)


def test_poll_state_for_anonymous_inactive_superuser_and_junk(incident, restricted_incident,
                                                              responder):
    assert poll_state(None, incident.pk) is None
    assert poll_state(AnonymousUser(), incident.pk) is None
    assert poll_state(fresh(responder), "junk") is None
    assert poll_state(fresh(responder), 999999) is None
    root = User.objects.create_superuser("root", "root@example.com", "x")  # in no group
    assert poll_state(root, restricted_incident.pk) == (restricted_incident.timeline_seq,
                                                       restricted_incident.status)
    responder.is_active = False
    responder.save()
    assert poll_state(fresh(responder), incident.pk) is None


def test_visibility_narrows_the_given_queryset(incident, commander, responder):
    closed = declare(by=commander)
    services.transition(closed, to=Status.DECLINED, by=commander)
    assert list(visible_incidents(fresh(responder), Incident.objects.open())) == [incident]


# --- restricted --------------------------------------------------------------------------------

def test_restricted_incident_is_visible_to_its_declarer(secret, declarer):
    assert sees(declarer, secret)


@pytest.mark.parametrize("persona", ["commander", "responder", "csm", "outsider"])
def test_restricted_incident_is_hidden_from_others(persona, secret, incident, request):
    user = fresh(request.getfixturevalue(persona))
    visible = list(visible_incidents(user))
    assert secret not in visible
    assert visible == ([] if persona == "outsider" else [incident])
    assert visible_incidents(user).filter(restricted=True).count() == 0


@pytest.mark.parametrize("persona", ["auditor", "admin_user"])
def test_auditors_and_admins_see_every_restricted_incident(persona, secret, restricted_incident,
                                                          request):
    user = fresh(request.getfixturevalue(persona))
    assert set(visible_incidents(user)) == {secret, restricted_incident}


def test_commander_named_at_declaration_sees_restricted_incident(declarer, commander):
    secret = declare(by=declarer, restricted=True, commander=commander)
    assert sees(commander, secret)


def test_roles_assigned_later_grant_visibility(secret, declarer, commander, responder, csm):
    assert not any(sees(u, secret) for u in (commander, responder, csm))
    services.assign_roles(secret, by=declarer, commander=commander, comms_lead=csm,
                          responders=[responder])
    assert all(sees(u, secret) for u in (commander, responder, csm))


def test_grant_access_to_a_user(secret, declarer, responder, commander):
    services.grant_access(secret, by=declarer, user=responder)
    assert sees(responder, secret)
    assert not sees(commander, secret)


def test_grant_access_to_a_team_reaches_its_members(secret, declarer, responder, commander, csm):
    team = make_team("Security", responder)
    services.grant_access(secret, by=declarer, team=team)
    assert sees(responder, secret)
    assert not sees(commander, secret)
    team.group.user_set.add(csm)  # joins after the grant
    assert sees(csm, secret)


def test_grant_without_role_group_shows_nothing(secret, declarer, outsider):
    services.grant_access(secret, by=declarer, user=outsider)
    assert not sees(outsider, secret)


def test_restricting_later_keeps_it_visible_to_its_declarer(responder, commander):
    """declare(restricted=True) grants the declarer; restricting afterwards must not lock the
    declarer out of their own incident."""
    incident = declare(by=responder)
    services.set_restricted(incident, restricted=True, by=commander)
    assert sees(responder, incident)


def test_restricting_later_hides_from_people_without_a_grant(incident, commander, responder):
    services.set_restricted(incident, restricted=True, by=commander)
    assert sees(commander, incident)
    assert not sees(responder, incident)


# --- get_visible_incident ----------------------------------------------------------------------

def test_get_visible_incident_returns_visible_one(incident, responder):
    assert get_visible_incident(fresh(responder), str(incident.pk)) == incident
    assert get_visible_incident(fresh(responder), incident.pk) == incident


@pytest.mark.parametrize("number", ["hidden", "missing", "abc", "12abc", None, "", "1.5", "9" * 30])
def test_get_visible_incident_is_404_for_hidden_missing_or_junk(number, secret, responder):
    number = {"hidden": secret.pk, "missing": secret.pk + 1000}.get(number, number)
    with pytest.raises(Http404):
        get_visible_incident(fresh(responder), number)


def test_get_visible_incident_is_404_for_outsider(incident, outsider):
    with pytest.raises(Http404):
        get_visible_incident(fresh(outsider), incident.pk)


# --- can_edit / can_correct_milestones ---------------------------------------------------------

@pytest.mark.parametrize(("persona", "expected"), [
    ("commander", True), ("responder", True), ("admin_user", True),
    ("csm", False), ("auditor", False), ("outsider", False),
])
def test_can_edit_only_for_responders_and_admins(persona, expected, incident, request):
    assert can_edit(fresh(request.getfixturevalue(persona)), incident) is expected


def test_anonymous_cannot_edit(incident):
    assert can_edit(AnonymousUser(), incident) is False


@pytest.mark.parametrize(("persona", "expected"), [
    ("commander", True), ("admin_user", True),
    ("responder", False), ("csm", False), ("auditor", False), ("outsider", False),
])
def test_can_correct_milestones_for_the_commander_or_admins(persona, expected, commander,
                                                            request):
    incident = declare(by=commander, commander=commander)
    user = fresh(request.getfixturevalue(persona))
    assert can_correct_milestones(user, incident) is expected


def test_commanding_another_incident_gives_no_milestone_rights(incident, commander, responder):
    services.assign_roles(incident, by=commander, commander=responder)
    assert can_correct_milestones(fresh(responder), incident)
    assert not can_correct_milestones(fresh(commander), incident)


def test_read_only_commander_cannot_correct_milestones(commander, csm):
    incident = declare(by=commander, commander=csm)
    assert not can_correct_milestones(fresh(csm), incident)


# --- query count -------------------------------------------------------------------------------

def _create_mix(count: int, declarer, grantee, team):
    """A third unrestricted, a third restricted and granted (to the user or their team), a third
    restricted and not granted."""
    visible = 0
    for n in range(count):
        kind = n % 3
        incident = declare(by=declarer, restricted=kind != 0)
        if kind == 1:
            services.grant_access(incident, by=declarer,
                                  **({"user": grantee} if n % 2 else {"team": team}))
        visible += kind != 2
    return visible


def _queries_for_list(user) -> tuple[int, int]:
    """Queries to list what a freshly loaded user (empty permission caches) may see."""
    with CaptureQueriesContext(connection) as queries:
        rows = list(visible_incidents(user).for_list())
        for row in rows:
            _ = (row.commander, row.comms_lead, list(row.services.all()))
    return len(queries), len(rows)


def test_visible_list_uses_constant_queries(declarer, responder, django_assert_max_num_queries):
    team = make_team("Payments-oncall", responder)
    expected = _create_mix(5, declarer, responder, team)
    small, rows = _queries_for_list(fresh(responder))
    assert rows == expected

    expected += _create_mix(45, declarer, responder, team)
    user = fresh(responder)
    with django_assert_max_num_queries(small):
        large, rows = _queries_for_list(user)
    assert rows == expected
    assert large == small
