"""The REST API of incidents (/api/v1/incidents/): listing, declaring, actions, timeline, errors."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from incidents import permissions, services
from incidents.models import (
    EntryKind,
    Incident,
    Service,
    Severity,
    Status,
    TimelineEntry,
)
from tests.conftest import declare, make_team, make_user

LIST = "/api/v1/incidents/"


def url(incident, action=""):
    return f"{LIST}{incident.pk}/" + (f"{action}/" if action else "")


def client_for(user) -> APIClient:
    client = APIClient()
    # Re-read the user, as the next request would: permission caches live on the instance.
    client.force_authenticate(user=User.objects.get(pk=user.pk))
    return client


def bearer_client(user) -> APIClient:
    _, raw = ApiToken.issue(user, "tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


def last_entry(incident) -> TimelineEntry:
    return TimelineEntry.objects.filter(incident=incident).order_by("seq").last()


# --- authentication ----------------------------------------------------------------------------

def test_list_without_credentials_is_401(incident):
    response = APIClient().get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_bearer_token_reads_and_writes_as_its_user(incident, responder):
    client = bearer_client(responder)
    assert numbers(client.get(LIST)) == [incident.pk]
    response = client.post(url(incident, "notes"), {"text": "Rolled back"}, format="json")
    assert response.status_code == 201
    assert last_entry(incident).actor == responder


def test_session_login_works_for_reads(incident, responder):
    client = APIClient()
    # Login throttling (django-axes) needs the request authenticate() runs for; axes documents
    # passing one to the test client's login.
    assert client.login(request=HttpRequest(), username="responder", password="pw-responder")
    assert numbers(client.get(LIST)) == [incident.pk]


# --- list, filters and search ------------------------------------------------------------------

def test_list_puts_open_incidents_first_then_by_severity(commander):
    minor = declare(by=commander, severity=Severity.P4)
    critical = declare(by=commander, severity=Severity.P1)
    closed = declare(by=commander, severity=Severity.P1)
    services.transition(closed, to=Status.RESOLVED, by=commander)
    assert numbers(client_for(commander).get(LIST)) == [critical.pk, minor.pk, closed.pk]


def test_list_rows_show_the_incident(incident, commander, responder, tier):
    services.assign_roles(incident, commander=commander, responders=[responder], by=commander)
    incident.customer_tiers.add(tier)
    [row] = client_for(responder).get(LIST).json()["results"]
    assert row["number"] == incident.pk
    assert row["reference"] == f"INC-{incident.pk}"
    assert (row["title"], row["severity"], row["status"]) == (
        "Checkout returns 502", "P2", "triggered")
    assert row["services"] == ["checkout-api"]
    assert row["customer_tiers"] == ["enterprise"]
    assert (row["commander"], row["comms_lead"], row["responders"]) == (
        "commander", None, ["responder"])
    assert row["declared_by"] == "commander"
    assert row["restricted"] is False


def test_list_is_paginated(incident, responder):
    body = client_for(responder).get(LIST).json()
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)


@pytest.mark.parametrize(("status", "expected"), [
    ("open", ["triggered", "acknowledged"]),
    ("closed", ["resolved", "declined"]),
    ("acknowledged", ["acknowledged"]),
    ("all", ["triggered", "acknowledged", "resolved", "declined"]),
    ("", ["triggered", "acknowledged", "resolved", "declined"]),
])
def test_list_filters_by_status(status, expected, commander):
    made = {}
    for to in ("triggered", "acknowledged", "resolved", "declined"):
        made[to] = declare(by=commander)
        if to != "triggered":
            services.transition(made[to], to=to, by=commander)
    query = {"status": status} if status else {}
    found = numbers(client_for(commander).get(LIST, query))
    assert sorted(found) == sorted(made[s].pk for s in expected)


def test_list_filters_by_severity(commander):
    declare(by=commander, severity=Severity.P2)
    p1 = declare(by=commander, severity=Severity.P1)
    assert numbers(client_for(commander).get(LIST, {"severity": "P1"})) == [p1.pk]


def test_list_filters_by_service_and_by_its_team(incident, commander):
    search = make_team("Search")
    other = declare(by=commander, services=[
        Service.objects.create(name="Search API", slug="search-api", team=search)])
    declare(by=commander)  # no service at all
    client = client_for(commander)
    assert numbers(client.get(LIST, {"service": "checkout-api"})) == [incident.pk]
    assert numbers(client.get(LIST, {"team": "payments"})) == [incident.pk]
    assert numbers(client.get(LIST, {"team": "search"})) == [other.pk]
    assert numbers(client.get(LIST, {"service": "no-such-service"})) == []


def test_list_mine_covers_every_role_and_the_declarer(commander, responder):
    declared = declare(by=responder)
    commanding = declare(by=commander)
    services.assign_roles(commanding, commander=responder, by=commander)
    comms = declare(by=commander)
    services.assign_roles(comms, comms_lead=responder, by=commander)
    responding = declare(by=commander)
    services.assign_roles(responding, responders=[responder], by=commander)
    declare(by=commander)  # someone else's
    found = numbers(client_for(responder).get(LIST, {"mine": "1"}))
    assert sorted(found) == sorted(i.pk for i in (declared, commanding, comms, responding))


@pytest.mark.parametrize("q", ["INC-{n}", "inc-{n}", "{n}", " {n} "])
def test_search_finds_incident_by_reference_or_number(q, commander):
    wanted = declare(by=commander, title="Queue backlog")
    declare(by=commander, title="Login errors")
    found = numbers(client_for(commander).get(LIST, {"q": q.format(n=wanted.pk)}))
    assert found == [wanted.pk]


def test_search_matches_title_case_insensitively(commander):
    wanted = declare(by=commander, title="Checkout returns 502")
    declare(by=commander, title="Login errors")
    assert numbers(client_for(commander).get(LIST, {"q": "CHECKOUT"})) == [wanted.pk]


def test_list_treats_blank_filters_as_absent(incident, commander):
    closed = declare(by=commander)
    services.transition(closed, to=Status.DECLINED, by=commander)
    blank = {"status": "", "severity": "", "service": "", "team": "", "mine": "", "q": ""}
    found = numbers(client_for(commander).get(LIST, blank))
    assert sorted(found) == [incident.pk, closed.pk]


@pytest.mark.parametrize(("query", "field"), [
    ({"status": "sleeping"}, "status"),
    ({"severity": "P9"}, "severity"),
    ({"mine": "perhaps"}, "mine"),
])
def test_list_rejects_unknown_filter_values(query, field, incident, responder):
    response = client_for(responder).get(LIST, query)
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize("how_many", [3, 30])
def test_list_query_count_does_not_grow_with_incidents(
        how_many, commander, responder, service, tier, django_assert_max_num_queries):
    for _ in range(how_many):
        incident = declare(by=commander, services=[service], customer_tiers=[tier])
        services.assign_roles(incident, commander=commander, comms_lead=responder,
                              responders=[responder, commander], by=commander)
    client = bearer_client(responder)
    with django_assert_max_num_queries(9):
        assert len(numbers(client.get(LIST))) == how_many


# --- visibility --------------------------------------------------------------------------------

def test_restricted_incident_is_hidden_from_non_granted_user_everywhere(
        incident, restricted_incident, responder):
    client = client_for(responder)
    listing = client.get(LIST)
    assert numbers(listing) == [incident.pk]
    assert listing.json()["count"] == 1
    assert numbers(client.get(LIST, {"q": restricted_incident.reference})) == []
    assert numbers(client.get(LIST, {"q": "Suspicious"})) == []
    for path in (url(restricted_incident), url(restricted_incident, "timeline")):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "No such incident."}


def test_hidden_and_missing_incidents_get_the_same_404(restricted_incident, responder):
    client = client_for(responder)
    hidden = client.get(url(restricted_incident))
    missing = client.get(f"{LIST}{restricted_incident.pk + 1000}/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


@pytest.mark.parametrize("number", ["1.5", "abc", "-1"])
def test_malformed_number_gets_the_api_json_404(number, incident, responder):
    # Not the site's HTML page: API clients read every answer as JSON.
    response = client_for(responder).get(f"{LIST}{number}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_restricted_incident_is_visible_to_its_declarer_and_auditors(
        restricted_incident, commander, auditor):
    for user in (commander, auditor):
        client = client_for(user)
        assert numbers(client.get(LIST)) == [restricted_incident.pk]
        assert client.get(url(restricted_incident)).json()["restricted"] is True


def test_restricted_incident_is_visible_to_a_granted_user(restricted_incident, responder):
    permissions.grant_view(restricted_incident, user=responder)
    client = client_for(responder)
    assert numbers(client.get(LIST, {"q": "Suspicious"})) == [restricted_incident.pk]
    assert client.get(url(restricted_incident)).status_code == 200


def test_restricted_incident_is_visible_to_members_of_a_granted_team(
        restricted_incident, responder):
    security = make_team("Security", responder)
    permissions.grant_view(restricted_incident, group=security.group)
    client = client_for(responder)
    assert numbers(client.get(LIST)) == [restricted_incident.pk]
    assert client.get(url(restricted_incident, "timeline")).status_code == 200


def test_user_without_a_role_sees_an_empty_list_and_404s(incident, outsider):
    client = client_for(outsider)
    assert client.get(LIST).json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert client.get(url(incident)).status_code == 404
    assert client.get(url(incident, "timeline")).status_code == 404


# --- detail ------------------------------------------------------------------------------------

def test_detail_shows_the_incident(incident, csm):
    response = bearer_client(csm).get(url(incident))
    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["title"], body["services"]) == (
        incident.pk, "Checkout returns 502", ["checkout-api"])


def test_non_numeric_number_is_404(incident, responder):
    assert client_for(responder).get(f"{LIST}INC-{incident.pk}/").status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_incidents_cannot_be_replaced_edited_or_deleted(method, incident, admin_user):
    response = getattr(client_for(admin_user), method)(
        url(incident), {"title": "Renamed"}, format="json")
    assert response.status_code == 405
    incident.refresh_from_db()
    assert incident.title == "Checkout returns 502"


# --- declare -----------------------------------------------------------------------------------

def test_declare_creates_incident_and_declared_entry(responder, service, tier):
    started = timezone.now() - timedelta(minutes=20)
    response = bearer_client(responder).post(LIST, {
        "title": "Checkout returns 502", "severity": "P1", "description": "Card payments fail.",
        "services": ["checkout-api"], "customer_tiers": ["enterprise"],
        "started_at": started.isoformat(),
    }, format="json")
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(pk=response.json()["number"])
    assert response.json()["reference"] == incident.reference
    assert (incident.title, incident.severity, incident.status) == (
        "Checkout returns 502", "P1", "triggered")
    assert (incident.declared_by, incident.started_at) == (responder, started)
    assert list(incident.services.all()) == [service]
    assert list(incident.customer_tiers.all()) == [tier]
    declared, lead_notice = incident.timeline.order_by("seq")
    assert (declared.seq, declared.kind, declared.actor) == (1, EntryKind.DECLARED, responder)
    # The owning team's lead (commander) hears of it (incidents.paging.leads).
    assert (lead_notice.kind, lead_notice.new_value) == (EntryKind.NOTIFICATION, "lead:declared")


def test_declare_needs_only_title_and_severity(responder):
    response = client_for(responder).post(LIST, {"title": "Slow", "severity": "P3"},
                                          format="json")
    assert response.status_code == 201
    assert response.json()["services"] == []
    assert response.json()["restricted"] is False


def test_declaring_restricted_lets_the_declarer_but_not_others_see_it(responder, commander):
    response = client_for(responder).post(
        LIST, {"title": "Leaked key", "severity": "P1", "restricted": True}, format="json")
    number = response.json()["number"]
    assert client_for(responder).get(f"{LIST}{number}/").status_code == 200
    assert client_for(commander).get(f"{LIST}{number}/").status_code == 404


@pytest.mark.parametrize(("payload", "field"), [
    ({"title": "Slow", "severity": "P9"}, "severity"),
    ({"title": "", "severity": "P2"}, "title"),
    ({"title": "   ", "severity": "P2"}, "title"),
    ({"title": "x" * 201, "severity": "P2"}, "title"),
    ({"severity": "P2"}, "title"),
    ({"title": "Slow"}, "severity"),
    ({"title": "Slow", "severity": "P2", "services": ["no-such-service"]}, "services"),
    ({"title": "Slow", "severity": "P2", "customer_tiers": ["gold"]}, "customer_tiers"),
    ({"title": "Slow", "severity": "P2", "started_at": "yesterday"}, "started_at"),
])
def test_declare_rejects_bad_input_naming_the_field(payload, field, responder, service, tier):
    response = client_for(responder).post(LIST, payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert response.json()[field][0]
    assert not Incident.objects.exists()


def test_declare_rejects_a_start_in_the_future_with_the_services_message(responder):
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    response = client_for(responder).post(
        LIST, {"title": "Slow", "severity": "P2", "started_at": future}, format="json")
    assert response.status_code == 400
    assert response.json() == {"started_at": ["The start cannot be in the future."]}


def test_malformed_json_is_400(responder):
    response = client_for(responder).post(
        LIST, '{"title": "Slow",', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_form_encoded_body_is_415(responder):
    response = client_for(responder).post(LIST, {"title": "Slow", "severity": "P2"})
    assert response.status_code == 415


@pytest.mark.parametrize("persona", ["auditor", "csm", "outsider"])
def test_declare_is_403_for_roles_that_cannot_declare(persona, request):
    user = request.getfixturevalue(persona)
    response = client_for(user).post(LIST, {"title": "Slow", "severity": "P2"}, format="json")
    assert response.status_code == 403
    assert not Incident.objects.exists()


# --- actions -----------------------------------------------------------------------------------

def test_transition_moves_status_and_writes_entry(incident, responder):
    response = client_for(responder).post(
        url(incident, "transition"), {"status": "investigating", "note": "Looking"},
        format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "investigating"
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.acknowledged_at is not None
    entry = last_entry(incident)
    assert (entry.kind, entry.old_value, entry.new_value, entry.note, entry.actor) == (
        EntryKind.STATUS, "triggered", "investigating", "Looking", responder)


def test_transition_to_unknown_status_is_400_naming_status(incident, responder):
    response = client_for(responder).post(
        url(incident, "transition"), {"status": "sleeping"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_transition_not_allowed_from_current_status_is_409(incident, responder):
    services.transition(incident, to=Status.DECLINED, by=responder)
    response = client_for(responder).post(
        url(incident, "transition"), {"status": "investigating"}, format="json")
    assert response.status_code == 409
    message = f"INC-{incident.pk} is declined; it cannot move to investigating."
    assert response.json() == {"detail": message, "status": [message]}
    incident.refresh_from_db()
    assert incident.status == Status.DECLINED


def test_transition_to_merged_is_409(incident, responder):
    response = client_for(responder).post(
        url(incident, "transition"), {"status": "merged"}, format="json")
    assert response.status_code == 409
    assert "merge" in response.json()["detail"]


def test_acknowledge_sets_status_and_milestone(incident, responder):
    response = client_for(responder).post(url(incident, "acknowledge"))
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert response.json()["acknowledged_at"] is not None
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    status, role = incident.timeline.order_by("seq")[1:3]
    assert (status.kind, status.new_value, status.actor) == (
        EntryKind.STATUS, "acknowledged", responder)
    # Nobody commanded it: whoever acknowledges becomes the commander, and the timeline says why.
    assert (role.kind, role.new_value, role.data) == (
        EntryKind.ROLE, "responder", {"role": "commander", "reason": "acknowledged"})
    assert incident.commander == responder


def test_acknowledge_twice_is_409(incident, responder):
    client = client_for(responder)
    client.post(url(incident, "acknowledge"))
    response = client.post(url(incident, "acknowledge"))
    assert response.status_code == 409
    assert response.json()["status"] == [f"INC-{incident.pk} is already acknowledged."]
    assert TimelineEntry.objects.filter(incident=incident).count() == 3  # declared, status, role


def test_severity_change_writes_entry(incident, responder):
    response = client_for(responder).post(
        url(incident, "severity"), {"severity": "P1", "note": "All regions"}, format="json")
    assert response.status_code == 200
    assert response.json()["severity"] == "P1"
    incident.refresh_from_db()
    assert incident.severity == Severity.P1
    entry = last_entry(incident)
    assert (entry.kind, entry.old_value, entry.new_value, entry.note) == (
        EntryKind.SEVERITY, "P2", "P1", "All regions")


@pytest.mark.parametrize(("severity", "code"), [("P9", 400), ("P2", 409)])
def test_severity_rejects_unknown_or_unchanged_severity(severity, code, incident, responder):
    response = client_for(responder).post(
        url(incident, "severity"), {"severity": severity}, format="json")
    assert response.status_code == code
    assert "severity" in response.json()


def test_severity_of_closed_incident_is_409(incident, responder):
    services.transition(incident, to=Status.RESOLVED, by=responder)
    response = client_for(responder).post(
        url(incident, "severity"), {"severity": "P1"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": f"INC-{incident.pk} is resolved; reopen it first."}


def test_note_returns_the_created_entry(incident, responder):
    response = client_for(responder).post(
        url(incident, "notes"), {"text": "Rolled back to v41"}, format="json")
    assert response.status_code == 201
    entry = last_entry(incident)
    assert (entry.kind, entry.note, entry.actor) == (EntryKind.NOTE, "Rolled back to v41",
                                                     responder)
    assert response.json() == {
        "seq": entry.seq, "kind": "note", "actor": "responder", "actor_label": "",
        "created_at": response.json()["created_at"], "old_value": "", "new_value": "",
        "note": "Rolled back to v41", "data": {}, "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


@pytest.mark.parametrize("payload", [{}, {"text": ""}])
def test_note_needs_text(payload, incident, responder):
    response = client_for(responder).post(url(incident, "notes"), payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["text"]


def test_roles_assigns_the_roles_given(incident, commander, responder, csm):
    response = client_for(commander).post(url(incident, "roles"), {
        "commander": "commander", "comms_lead": "csm", "responders": ["responder", "commander"],
    }, format="json")
    assert response.status_code == 200
    assert response.json()["responders"] == ["commander", "responder"]
    incident.refresh_from_db()
    assert (incident.commander, incident.comms_lead) == (commander, csm)
    assert set(incident.responders.all()) == {commander, responder}
    roles = [e.data["role"] for e in TimelineEntry.objects.filter(
        incident=incident, kind=EntryKind.ROLE).order_by("seq")]
    assert roles == ["commander", "comms_lead", "responders"]


def test_roles_leaves_absent_roles_alone_and_null_clears(incident, commander, responder):
    services.assign_roles(incident, commander=commander, responders=[responder], by=commander)
    response = client_for(commander).post(
        url(incident, "roles"), {"commander": None}, format="json")
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.commander is None
    assert list(incident.responders.all()) == [responder]
    entry = last_entry(incident)
    assert (entry.kind, entry.old_value, entry.new_value) == (EntryKind.ROLE, "commander", "")


@pytest.mark.parametrize(("payload", "field"), [
    ({"commander": "nobody"}, "commander"),
    ({"responders": ["responder", "nobody"]}, "responders"),
    ({"comms_lead": "left"}, "comms_lead"),
])
def test_roles_rejects_unknown_or_inactive_usernames(payload, field, incident, responder):
    make_user("left", "Responders", is_active=False)
    response = client_for(responder).post(url(incident, "roles"), payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert last_entry(incident).kind == EntryKind.DECLARED


WRITES = [
    ("transition", {"status": "investigating"}),
    ("acknowledge", {}),
    ("severity", {"severity": "P1"}),
    ("notes", {"text": "Hello"}),
    ("roles", {"commander": "auditor"}),
]


@pytest.mark.parametrize("persona", ["auditor", "csm"])
@pytest.mark.parametrize(("action", "payload"), WRITES, ids=[w[0] for w in WRITES])
def test_read_only_roles_get_403_on_every_action(persona, action, payload, incident, request):
    user = request.getfixturevalue(persona)
    response = bearer_client(user).post(url(incident, action), payload, format="json")
    assert response.status_code == 403
    incident.refresh_from_db()
    assert (incident.status, incident.severity, incident.timeline_seq) == ("triggered", "P2", 1)


@pytest.mark.parametrize(("action", "payload"), WRITES, ids=[w[0] for w in WRITES])
def test_outsider_gets_404_on_every_action(action, payload, incident, outsider):
    response = client_for(outsider).post(url(incident, action), payload, format="json")
    assert response.status_code == 404
    incident.refresh_from_db()
    assert incident.timeline_seq == 1


@pytest.mark.parametrize(("action", "payload"), WRITES, ids=[w[0] for w in WRITES])
def test_non_granted_responder_gets_404_on_restricted_actions(
        action, payload, restricted_incident, responder):
    response = client_for(responder).post(url(restricted_incident, action), payload,
                                           format="json")
    assert response.status_code == 404
    restricted_incident.refresh_from_db()
    assert restricted_incident.timeline_seq == 1


@pytest.mark.parametrize("action", ["transition", "acknowledge", "severity", "notes", "roles"])
def test_actions_refuse_get(action, incident, responder):
    assert client_for(responder).get(url(incident, action)).status_code == 405


def test_action_on_missing_incident_is_404(responder):
    response = client_for(responder).post(f"{LIST}999999/acknowledge/")
    assert response.status_code == 404


# --- timeline ----------------------------------------------------------------------------------

def test_timeline_lists_entries_in_order(incident, commander, csm):
    services.add_note(incident, text="Rolled back", by=commander)
    services.transition(incident, to=Status.RESOLVED, by=commander, note="Fixed")
    response = client_for(csm).get(url(incident, "timeline"))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["seq"], r["kind"], r["actor"]) for r in rows] == [
        (1, "declared", "commander"), (2, "note", "commander"), (3, "status", "commander")]
    assert rows[2]["old_value"] == "triggered"
    assert rows[2]["new_value"] == "resolved"
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_timeline_after_returns_only_newer_entries(incident, commander):
    services.add_note(incident, text="one", by=commander)
    services.add_note(incident, text="two", by=commander)
    rows = client_for(commander).get(url(incident, "timeline"), {"after": 2}).json()["results"]
    assert [(r["seq"], r["note"]) for r in rows] == [(3, "two")]


@pytest.mark.parametrize("after", ["two", "-1"])
def test_timeline_after_must_be_a_non_negative_integer(after, incident, commander):
    response = client_for(commander).get(url(incident, "timeline"), {"after": after})
    assert response.status_code == 400
    assert list(response.json()) == ["after"]


def test_timeline_shows_actor_label_for_non_user_actors(commander):
    incident = declare(actor_label="alertmanager")
    [row] = client_for(commander).get(url(incident, "timeline")).json()["results"]
    assert (row["actor"], row["actor_label"]) == (None, "alertmanager")


@pytest.mark.parametrize("how_many", [3, 30])
def test_timeline_query_count_does_not_grow_with_entries(
        how_many, incident, commander, django_assert_max_num_queries):
    for n in range(how_many):
        services.add_note(incident, text=f"note {n}", by=commander)
    client = client_for(commander)
    with django_assert_max_num_queries(5):
        response = client.get(url(incident, "timeline"))
    assert response.json()["count"] == how_many + 1


# --- OpenAPI -----------------------------------------------------------------------------------

def test_openapi_schema_and_docs_need_a_login(db):
    client = APIClient()
    assert client.get("/api/schema/").status_code == 401
    assert client.get("/api/docs/").status_code in (401, 403)


def test_openapi_schema_describes_the_incident_endpoints(responder):
    client = APIClient()
    client.force_authenticate(responder)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/v1/incidents/"]) == {"get", "post"}
    for action in ("transition", "acknowledge", "severity", "notes", "roles"):
        assert set(paths[f"/api/v1/incidents/{{number}}/{action}/"]) == {"post"}
    assert set(paths["/api/v1/incidents/{number}/timeline/"]) == {"get"}


def test_api_docs_load_only_local_assets_and_no_inline_script(responder):
    client = APIClient()
    client.force_login(responder)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert all(body.strip() == "" for _, body in scripts), "inline scripts break the CSP"
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs, _ in scripts]
    assert sources == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/api/docs/?script=",
    ]
    assert all(link.startswith("/") and not link.startswith("//")
               for link in re.findall(r'(?:src|href)="([^"]+)"', html))
    for asset in sources[:2]:
        assert client.get(asset).status_code == 200
    init = client.get(sources[2])
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()
