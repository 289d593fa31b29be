"""Each persona × each web view and action, restricted incidents included."""

import pytest
from django.urls import reverse

from incidents import permissions, services
from incidents.models import Incident, Severity
from tests.conftest import declare, make_user

READ_VIEWS = ["detail", "timeline", "verify"]
ACTIONS = {
    "acknowledge": {},
    "transition": {"status": "investigating"},
    "severity": {"severity": "P1"},
    "roles": {"commander": "commander"},
    "note": {"text": "looking"},
    "details": {"title": "New title"},
    "merge": {"into": "999999"},
    "restrict": {"restricted": "on"},
    "grant": {"user": "commander"},
}
PERSONAS = ["commander", "responder", "csm", "auditor", "admin_user", "outsider"]
# What each persona gets: reading an incident, and writing to it.
READ = {"commander": 200, "responder": 200, "csm": 200, "auditor": 200, "admin_user": 200,
        "outsider": 404}
WRITE = {"commander": "ok", "responder": "ok", "csm": 403, "auditor": 403, "admin_user": "ok",
         "outsider": 404}


def _persona(request, name):
    return request.getfixturevalue(name)


def _url(name, incident):
    return reverse(f"incidents:{name}", args=[incident.pk])


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("view", READ_VIEWS)
def test_read_views_by_role(request, client, incident, persona, view):
    client.force_login(_persona(request, persona))
    response = client.get(_url(view, incident) + ("?after=0" if view == "timeline" else ""))
    assert response.status_code == READ[persona]
    if READ[persona] == 200:
        expected = {"detail": incident.title, "verify": "Intact", "timeline": ""}[view]
        assert expected in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", ACTIONS)
def test_write_actions_by_role(request, client, incident, persona, action):
    client.force_login(_persona(request, persona))
    before = incident.timeline_seq
    response = client.post(_url(action, incident), ACTIONS[action])
    expected = WRITE[persona]
    incident.refresh_from_db()
    if expected == "ok":
        # Allowed: either applied (redirect) or a form error for this data (400), never 403/404.
        assert response.status_code in (302, 400)
        if response.status_code == 302:
            assert incident.timeline_seq > before
    else:
        assert response.status_code == expected
        assert incident.timeline_seq == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_dashboard_by_role(request, client, incident, persona):
    client.force_login(_persona(request, persona))
    response = client.get("/")
    if persona == "outsider":
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert incident.title in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_declare_by_role(request, client, persona):
    client.force_login(_persona(request, persona))
    response = client.post(reverse("incidents:declare"), {"title": "Disk full", "severity": "P3"})
    allowed = persona in ("commander", "responder", "admin_user")
    assert response.status_code == (302 if allowed else 403)
    assert Incident.objects.filter(title="Disk full").exists() is allowed


@pytest.mark.parametrize("view", ["/", *(f"/incidents/1/{v}/" for v in ("", "timeline", "verify"))])
def test_anonymous_is_sent_to_login(client, view):
    response = client.get(view.replace("//", "/"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_refuse_get(client, responder, incident, action):
    client.force_login(responder)
    assert client.get(_url(action, incident)).status_code == 405


# --- restricted incidents ------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["responder", "csm"])
def test_restricted_incident_is_hidden_everywhere_from_people_not_granted(
        request, client, restricted_incident, persona):
    client.force_login(_persona(request, persona))
    for view in READ_VIEWS:
        assert client.get(_url(view, restricted_incident)).status_code == 404
    for action, data in ACTIONS.items():
        assert client.post(_url(action, restricted_incident), data).status_code == 404
    page = client.get("/?status=all").content.decode()
    assert restricted_incident.title not in page
    assert ">1</strong> open" not in page  # the P1 restricted incident is not counted
    search = client.get(f"/?status=all&q={restricted_incident.reference}").content.decode()
    assert restricted_incident.title not in search


@pytest.mark.parametrize("persona", ["commander", "auditor", "admin_user"])
def test_restricted_incident_is_visible_to_declarer_auditors_and_admins(
        request, client, restricted_incident, persona):
    client.force_login(_persona(request, persona))
    assert client.get(_url("detail", restricted_incident)).status_code == 200
    assert restricted_incident.title in client.get("/").content.decode()


def test_granting_a_user_or_team_opens_a_restricted_incident(client, commander,
                                                             restricted_incident, team):
    alice, bob = make_user("alice", "Responders"), make_user("bob", "Responders")
    team.group.user_set.add(bob)
    for user in (alice, bob):
        client.force_login(user)
        assert client.get(_url("detail", restricted_incident)).status_code == 404
    permissions.grant_view(restricted_incident, user=alice)
    services.grant_access(restricted_incident, by=commander, team=team)
    for user in (alice, bob):
        client.force_login(user)
        assert client.get(_url("detail", restricted_incident)).status_code == 200


def test_milestones_only_for_the_commander_or_admins(client, responder, commander, admin_user):
    incident = declare(by=responder, severity=Severity.P2)
    services.assign_roles(incident, by=responder, commander=commander)
    data = {"started_at": incident.started_at.strftime("%Y-%m-%dT%H:%M:%S"),
            "detected_at": incident.detected_at.strftime("%Y-%m-%dT%H:%M:%S")}
    url = _url("milestones", incident)
    client.force_login(responder)
    assert client.post(url, data).status_code == 403
    for user in (commander, admin_user):
        client.force_login(user)
        assert client.post(url, data).status_code == 302
