"""The action items' REST API (/api/v1/action-items/, a tracker sync's door): the portal's
visibility, filters and permissions, the same services (so the same timeline entries), a stale
edit refused with 409 and the item as it is now, and never a 5xx: a 400 writes nothing."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from incidents import services as incident_services
from incidents.models import EntryKind, TimelineEntry
from postmortems.items import services
from postmortems.models import ActionItem, Postmortem
from tests.conftest import declare
from tests.incidents.test_api import bearer_client
from tests.incidents.test_fuzz_input import fuzz_json_writes

pytestmark = pytest.mark.django_db

LIST = "/api/v1/action-items/"
HUGE = "9" * 400


def detail(pk):
    return f"/api/v1/action-items/{pk}/"


def status_path(pk):
    return f"/api/v1/action-items/{pk}/status/"


def create_path(incident):
    return f"/api/v1/incidents/{incident.pk}/postmortem/action-items/"


def send(client, method, path, body):
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


def actions(incident) -> list[str]:
    entries = incident.timeline.filter(kind=EntryKind.POSTMORTEM).order_by("seq")
    return [entry.data["action"] for entry in entries]


def snapshot() -> tuple:
    """Everything a refused write must leave as it was."""
    return (list(ActionItem.objects.order_by("pk").values()), TimelineEntry.objects.count())


@pytest.fixture
def postmortem(incident):
    return Postmortem.objects.create(incident=incident)


@pytest.fixture
def item(postmortem, commander, responder):
    return services.create(postmortem, by=commander, title="Alert on 502 rate", owner=responder)


# --- The flow a tracker sync follows ------------------------------------------------------------

def test_create_answers_the_item_and_writes_the_timeline(postmortem, commander, responder):
    due = timezone.localdate() + timedelta(days=20)
    response = send(bearer_client(commander), "post", create_path(postmortem.incident), {
        "title": "  Alert on 502 rate ", "owner": "responder", "due_on": due.isoformat(),
        "priority": "high", "kind": "detect", "ticket_url": "https://jira.example.test/OPS-1",
        "description": "Page on a 5% error rate."})
    assert response.status_code == 201, response.content
    item = ActionItem.objects.get()
    number = postmortem.incident_id
    assert response.json() == {
        "id": item.pk, "incident": number, "reference": f"INC-{number}",
        "postmortem": postmortem.pk, "title": "Alert on 502 rate",
        "description": "Page on a 5% error rate.", "owner": "responder",
        "due_on": due.isoformat(), "priority": "high", "kind": "detect", "status": "open",
        "accepted_reason": "", "ticket_url": "https://jira.example.test/OPS-1",
        "overdue": False, "version": 1,
        "created_at": response.json()["created_at"], "finished_at": None,
        "url": f"http://testserver/incidents/{number}/postmortem/items/#action-item-{item.pk}"}
    assert (item.created_by, item.owner) == (commander, responder)
    assert actions(postmortem.incident) == ["item_added"]


def test_create_takes_the_severity_default_due_date(postmortem, commander):
    response = send(bearer_client(commander), "post", create_path(postmortem.incident),
                    {"title": "Document the failover", "due_on": None})
    assert response.status_code == 201, response.content
    body = response.json()
    # P2: 30 days (RELAY_ACTION_ITEM_P2_DAYS's default).
    assert body["due_on"] == (timezone.localdate() + timedelta(days=30)).isoformat()
    assert (body["owner"], body["priority"], body["kind"]) == (None, "medium", "prevent")


def test_list_filters_like_the_portal(incident, postmortem, commander, responder, service):
    elsewhere = Postmortem.objects.create(incident=declare(by=commander, services=[]))
    late = services.create(postmortem, by=commander, title="Late canary", owner=responder)
    ActionItem.objects.filter(pk=late.pk).update(due_on=timezone.localdate() - timedelta(days=2))
    services.create(postmortem, by=commander, title="Commander's runbook", owner=commander)
    done = services.create(elsewhere, by=commander, title="Done dashboards", owner=responder)
    services.set_status(done, by=responder, status="done")
    client = bearer_client(responder)
    # Open first by due date, finished last.
    assert titles(client.get(LIST)) == ["Late canary", "Commander's runbook", "Done dashboards"]
    assert titles(client.get(LIST, {"owner": "me"})) == ["Late canary", "Done dashboards"]
    assert titles(client.get(LIST, {"owner": "commander"})) == ["Commander's runbook"]
    assert titles(client.get(LIST, {"status": "finished"})) == ["Done dashboards"]
    assert titles(client.get(LIST, {"status": "done", "owner": "me"})) == ["Done dashboards"]
    assert titles(client.get(LIST, {"status": "open"})) == ["Late canary", "Commander's runbook"]
    assert titles(client.get(LIST, {"overdue": "true"})) == ["Late canary"]
    assert titles(client.get(LIST, {"team": "payments"})) == ["Late canary",
                                                              "Commander's runbook"]
    assert titles(client.get(LIST, {"incident": elsewhere.incident_id})) == ["Done dashboards"]
    assert titles(client.get(LIST, {"owner": "", "status": "", "team": ""})) == [
        "Late canary", "Commander's runbook", "Done dashboards"]
    rows = client.get(LIST, {"overdue": "true"}).json()
    assert rows["count"] == 1 and rows["results"][0]["overdue"] is True
    unknown = client.get(LIST, {"owner": "nobody"})
    assert unknown.status_code == 400 and "No user is called nobody." in unknown.json()["owner"]
    bad = client.get(LIST, {"status": "closed", "team": "nope"})
    assert bad.status_code == 400 and set(bad.json()) == {"status", "team"}


def test_patch_from_a_stale_version_is_409_and_changes_nothing(item, commander, responder):
    client = bearer_client(responder)
    first = send(client, "patch", detail(item.pk),
                 {"version": 1, "title": "Alert on 5xx rate", "priority": "high"})
    assert first.status_code == 200, first.content
    assert (first.json()["title"], first.json()["priority"], first.json()["version"]) == (
        "Alert on 5xx rate", "high", 2)
    before = snapshot()
    stale = send(bearer_client(commander), "patch", detail(item.pk),
                 {"version": 1, "title": "Something else", "owner": "commander"})
    assert stale.status_code == 409
    assert "now version 2" in stale.json()["detail"]
    assert stale.json()["current"]["version"] == 2
    assert stale.json()["current"]["title"] == "Alert on 5xx rate"
    assert snapshot() == before
    item.refresh_from_db()
    assert (item.title, item.owner, item.version) == ("Alert on 5xx rate", responder, 2)
    assert actions(item.incident) == ["item_added", "item_changed"]


def test_patch_changes_owner_and_due_date(item, commander):
    due = timezone.localdate() + timedelta(days=5)
    response = send(bearer_client(commander), "patch", detail(item.pk), {
        "version": 1, "owner": "commander", "due_on": due.isoformat(), "kind": "process",
        "ticket_url": "https://linear.example.test/ENG-7"})
    assert response.status_code == 200, response.content
    item.refresh_from_db()
    assert (item.owner.username, item.due_on, item.kind, item.ticket_url) == (
        "commander", due, "process", "https://linear.example.test/ENG-7")
    entry = item.incident.timeline.filter(data__action="item_changed").get()
    assert "owner responder → commander" in entry.note
    unowned = send(bearer_client(commander), "patch", detail(item.pk),
                   {"version": 2, "owner": None})
    assert unowned.status_code == 200 and unowned.json()["owner"] is None


def test_status_done_accepted_and_reopened(item, responder):
    client = bearer_client(responder)
    done = send(client, "post", status_path(item.pk), {"status": "done"})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "done" and done.json()["finished_at"] is not None
    again = send(client, "post", status_path(item.pk), {"status": "done"})
    assert again.status_code == 409 and "already done" in again.json()["detail"]
    reopened = send(client, "post", status_path(item.pk), {"status": "open"})
    assert reopened.json()["status"] == "open" and reopened.json()["finished_at"] is None
    before = snapshot()
    no_reason = send(client, "post", status_path(item.pk), {"status": "accepted", "reason": " "})
    assert no_reason.status_code == 400
    assert no_reason.json()["reason"] == ["Say why the item is accepted without being done."]
    assert snapshot() == before
    accepted = send(client, "post", status_path(item.pk),
                    {"status": "accepted", "reason": "The service is retired in March."})
    assert accepted.status_code == 200, accepted.content
    assert (accepted.json()["status"], accepted.json()["accepted_reason"]) == (
        "accepted", "The service is retired in March.")
    assert accepted.json()["version"] == 4
    assert actions(item.incident) == ["item_added", "item_done", "item_reopened",
                                      "item_accepted"]
    note = item.incident.timeline.get(data__action="item_accepted").note
    assert note.endswith("Alert on 502 rate — The service is retired in March.")  # one stop
    finished = send(client, "patch", detail(item.pk), {"version": 4, "title": "Late"})
    assert finished.status_code == 409 and finished.json()["current"]["status"] == "accepted"


# --- Who sees and changes what -------------------------------------------------------------------

def test_restricted_items_are_hidden_like_missing_ones(restricted_incident, commander,
                                                       responder, outsider):
    hidden = services.create(Postmortem.objects.create(incident=restricted_incident),
                             by=commander, title="Rotate the keys")
    for user in (responder, outsider):
        client = bearer_client(user)
        assert "Rotate the keys" not in str(client.get(LIST).content)
        missing = client.get(detail(hidden.pk + 1000))
        answer = client.get(detail(hidden.pk))
        assert answer.status_code == missing.status_code == 404
        assert answer.json() == missing.json()
        assert send(client, "patch", detail(hidden.pk), {"version": 1, "title": "x"}
                    ).status_code == 404
        assert send(client, "post", status_path(hidden.pk), {"status": "done"}
                    ).status_code == 404
        assert send(client, "post", create_path(restricted_incident), {"title": "x"}
                    ).status_code == 404
    assert ActionItem.objects.count() == 1
    incident_services.grant_access(restricted_incident, by=commander, user=responder)
    granted = bearer_client(responder)
    assert titles(granted.get(LIST)) == ["Rotate the keys"]
    assert granted.get(detail(hidden.pk)).json()["reference"] == restricted_incident.reference


def test_auditors_read_but_never_write(item, auditor):
    client = bearer_client(auditor)
    assert titles(client.get(LIST)) == ["Alert on 502 rate"]
    assert client.get(detail(item.pk)).json()["owner"] == "responder"
    before = snapshot()
    writes = [
        ("post", create_path(item.incident), {"title": "Audit the audit"}),
        ("patch", detail(item.pk), {"version": 1, "title": "Changed"}),
        ("post", status_path(item.pk), {"status": "done"}),
        # Refused before the body is read: a role that may not write learns nothing more.
        ("patch", detail(item.pk), {"version": "junk"}),
    ]
    for method, path, body in writes:
        response = send(client, method, path, body)
        assert response.status_code == 403, (path, response.content)
        assert "detail" in response.json()
    assert snapshot() == before


def test_communications_changes_only_the_items_it_owns(postmortem, commander, csm):
    theirs = services.create(postmortem, by=commander, title="Customer FAQ", owner=csm)
    other = services.create(postmortem, by=commander, title="Canary")
    client = bearer_client(csm)
    assert send(client, "post", create_path(postmortem.incident),
                {"title": "More"}).status_code == 403
    assert send(client, "post", status_path(other.pk), {"status": "done"}).status_code == 403
    done = send(client, "post", status_path(theirs.pk), {"status": "done"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    other.refresh_from_db()
    assert other.status == "open" and ActionItem.objects.count() == 2


def test_anonymous_callers_and_wrong_methods(item, commander):
    assert APIClient().get(LIST).status_code in (401, 403)
    assert APIClient().get(detail(item.pk)).status_code in (401, 403)
    client = bearer_client(commander)
    assert client.get(status_path(item.pk)).status_code == 405
    assert client.delete(detail(item.pk)).status_code == 405
    assert client.put(detail(item.pk), {"version": 1}, format="json").status_code == 405
    assert ActionItem.objects.filter(pk=item.pk).exists()


def test_incident_without_post_mortem_is_404(incident, commander):
    response = send(bearer_client(commander), "post", create_path(incident), {"title": "x"})
    assert response.status_code == 404 and not ActionItem.objects.exists()


# --- Hostile input ------------------------------------------------------------------------------

def _hostile_writes(item):
    number = item.incident_id
    create = f"/api/v1/incidents/{number}/postmortem/action-items/"
    return [
        ("post", create, {"title": "a\x00b"}),
        ("post", create, {"title": "Fine", "owner": "x\x00y"}),
        ("post", create, {"title": "Fine", "owner": "nobody"}),
        ("post", create, {"title": "Fine", "owner": 7}),
        ("post", create, {"title": ["a list"]}),
        ("post", create, {"title": {"a": "dict"}}),
        ("post", create, {"title": "x" * 201}),
        ("post", create, {"title": "Two\nlines"}),
        ("post", create, {"title": "Fine", "due_on": "2026-13-40"}),
        ("post", create, {"title": "Fine", "due_on": "2001-01-01"}),
        ("post", create, {"title": "Fine", "due_on": int(HUGE)}),
        ("post", create, {"title": "Fine", "priority": "urgent"}),
        ("post", create, {"title": "Fine", "kind": None}),
        ("post", create, {"title": "Fine", "ticket_url": "javascript:alert(1)"}),
        ("post", create, {"title": "Fine", "ticket_url": "https://x.test/\x00"}),
        ("post", create, {"title": "Fine", "description": "\ud800"}),
        ("post", create, []),
        ("post", create, "just text"),
        ("patch", detail(item.pk), {"title": "No version"}),
        ("patch", detail(item.pk), {"version": "x", "title": "Fine"}),
        ("patch", detail(item.pk), {"version": int(HUGE), "title": "Fine"}),
        ("patch", detail(item.pk), {"version": 1e400, "title": "Fine"}),
        ("patch", detail(item.pk), {"version": float("nan"), "title": "Fine"}),
        ("patch", detail(item.pk), {"version": 1, "owner": "nobody"}),
        ("patch", detail(item.pk), {"version": 1, "due_on": None}),
        ("patch", detail(item.pk), {"version": 1, "title": ""}),
        ("patch", detail(item.pk), {"version": 1, "title": None}),
        ("patch", detail(item.pk), {"version": True, "title": "Fine"}),
        ("post", status_path(item.pk), {"status": "closed"}),
        ("post", status_path(item.pk), {"status": ["done"]}),
        ("post", status_path(item.pk), {"status": "accepted", "reason": "x" * 501}),
        ("post", status_path(item.pk), {"status": "accepted", "reason": "a\x00b"}),
        ("post", status_path(item.pk), {}),
    ]


def test_hostile_bodies_are_400_with_a_field_message_and_write_nothing(item, commander):
    client = bearer_client(commander)
    for method, path, body in _hostile_writes(item):
        before = snapshot()
        raw = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
        response = getattr(client, method)(path, data=raw, content_type="application/json")
        assert response.status_code == 400, (path, body, response.status_code, response.content)
        assert response.json(), (path, body)
        assert snapshot() == before, (path, body)
    item.refresh_from_db()
    assert (item.title, item.version) == ("Alert on 502 rate", 1)


def test_unknown_owner_names_the_field(postmortem, commander):
    response = send(bearer_client(commander), "post", create_path(postmortem.incident),
                    {"title": "Fine", "owner": "nobody"})
    assert response.status_code == 400
    assert list(response.json()) == ["owner"] and "nobody" in response.json()["owner"][0]


def test_non_utf8_and_junk_bodies_are_400(item, commander):
    client = bearer_client(commander)
    before = snapshot()
    for raw in (b'{"title": "\xff\xfe"}', b"\xed\xa0\x80", b'{"title": 1', b"[" * 100_000,
                b'{"version": 1, "title": "\\u0000"}'):
        for method, path in (("post", create_path(item.incident)), ("patch", detail(item.pk)),
                             ("post", status_path(item.pk))):
            response = getattr(client, method)(path, data=raw, content_type="application/json")
            assert response.status_code == 400, (path, raw[:20], response.content)
    form = client.post(create_path(item.incident), {"title": "x"})  # not JSON
    assert form.status_code == 415
    assert snapshot() == before


@pytest.mark.parametrize("value", ["\x00", HUGE, "-1", "1e400", "NaN", " ", "日本 😀"])
def test_hostile_ids_and_query_parameters_never_500(item, commander, value):
    client = bearer_client(commander)
    quoted = value.replace(" ", "%20")
    for path in (detail(quoted), status_path(quoted),
                 f"/api/v1/incidents/{quoted}/postmortem/action-items/"):
        assert client.get(path).status_code in (404, 405), path
        assert send(client, "post", path, {"status": "done", "title": "x"}).status_code in (
            404, 405), path
    for name in ("owner", "status", "team", "overdue", "incident", "page"):
        response = client.get(LIST, {name: value})
        assert response.status_code in (200, 400, 404), (name, response.content)
        if response.status_code == 400:
            assert name in response.json() or "detail" in response.json()
    assert client.get(detail(HUGE)).json() == {"detail": "Not found."}
    assert ActionItem.objects.count() == 1


@pytest.mark.parametrize("operation", ["create", "patch", "status"])
def test_fuzzed_bodies_never_500_and_a_400_writes_nothing(item, commander, operation):
    due = (timezone.localdate() + timedelta(days=9)).isoformat()
    method, path, base = {
        "create": ("post", create_path(item.incident), {
            "title": "Fine", "owner": "responder", "due_on": due, "priority": "low",
            "kind": "detect", "ticket_url": "https://x.test/1", "description": "d"}),
        "patch": ("patch", detail(item.pk), {"version": 1, "title": "Fine", "due_on": due}),
        "status": ("post", status_path(item.pk), {"status": "accepted", "reason": "Why"}),
    }[operation]
    fuzz_json_writes(bearer_client(commander), method, path, base, snapshot)


# --- Cost -----------------------------------------------------------------------------------------

def test_list_query_count_is_constant(commander, responder):
    def fill(count):
        for _ in range(count):
            postmortem = Postmortem.objects.create(incident=declare(by=commander))
            services.create(postmortem, by=commander, title="Item", owner=responder)

    client = bearer_client(responder)
    fill(1)
    with CaptureQueriesContext(connection) as one:
        assert len(titles(client.get(LIST, {"owner": "me"}))) == 1
    fill(9)
    with CaptureQueriesContext(connection) as many:
        assert len(titles(client.get(LIST, {"owner": "me"}))) == 10
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]


def test_the_schema_documents_every_operation(commander):
    response = bearer_client(commander).get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    assert set(paths["/api/v1/action-items/"]) == {"get"}
    assert set(paths["/api/v1/action-items/{id}/"]) == {"get", "patch"}
    assert set(paths["/api/v1/action-items/{id}/status/"]) == {"post"}
    assert set(paths["/api/v1/incidents/{number}/postmortem/action-items/"]) == {"post"}
    patch = paths["/api/v1/action-items/{id}/"]["patch"]["responses"]
    assert patch["409"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ActionItemConflict")
    filters = {p["name"] for p in paths["/api/v1/action-items/"]["get"]["parameters"]}
    assert filters == {"owner", "status", "team", "overdue", "incident", "page"}
