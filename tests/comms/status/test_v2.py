"""Statuspage's v2 JSON: every documented field, with Statuspage's types and nesting, from one
scripted history; only published words; served from the cache."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comms.models import (
    Component,
    Maintenance,
    MaintenanceState,
    MaintenanceUpdate,
    Phase,
    StatusPage,
)
from comms.status import cache, v2
from incidents import services
from incidents.models import Severity, Status
from tests.comms.status.conftest import publish
from tests.conftest import declare

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


class Nullable:
    def __init__(self, shape):
        self.shape = shape


# The documented payloads (developer.statuspage.io, and live pages' answers), in shape: a type,
# a pattern, Nullable(...), a dict (exactly these keys) or a one-item list (every item so).
PAGE = {"id": str, "name": str, "url": str, "time_zone": str, "updated_at": TIME}
STATUS = {"indicator": str, "description": str}
COMPONENT = {"id": str, "name": str, "status": str, "created_at": TIME, "updated_at": TIME,
             "position": int, "description": Nullable(str), "showcase": bool,
             "start_date": Nullable(DATE), "group_id": Nullable(str), "page_id": str,
             "group": bool, "only_show_if_degraded": bool}
GROUP = {**COMPONENT, "components": [str]}
AFFECTED = {"code": str, "name": str}
UPDATE = {"id": str, "status": str, "body": str, "incident_id": str, "created_at": TIME,
          "updated_at": TIME, "display_at": TIME, "affected_components": Nullable([AFFECTED]),
          "deliver_notifications": bool, "custom_tweet": Nullable(str),
          "tweet_id": Nullable(str)}
INCIDENT = {"id": str, "name": str, "status": str, "created_at": TIME, "updated_at": TIME,
            "monitoring_at": Nullable(TIME), "resolved_at": Nullable(TIME), "impact": str,
            "shortlink": str, "started_at": TIME, "page_id": str, "incident_updates": [UPDATE],
            "components": [COMPONENT]}
MAINTENANCE = {**INCIDENT, "scheduled_for": TIME, "scheduled_until": TIME}
SHAPES = {
    "summary": {"page": PAGE, "components": ["component"], "incidents": [INCIDENT],
                "scheduled_maintenances": [MAINTENANCE], "status": STATUS},
    "status": {"page": PAGE, "status": STATUS},
    "components": {"page": PAGE, "components": ["component"]},
    "incidents": {"page": PAGE, "incidents": [INCIDENT]},
    "incidents-unresolved": {"page": PAGE, "incidents": [INCIDENT]},
    "maintenances": {"page": PAGE, "scheduled_maintenances": [MAINTENANCE]},
    "maintenances-upcoming": {"page": PAGE, "scheduled_maintenances": [MAINTENANCE]},
    "maintenances-active": {"page": PAGE, "scheduled_maintenances": [MAINTENANCE]},
}
PATHS = {
    "summary": "/status/api/v2/summary.json",
    "status": "/status/api/v2/status.json",
    "components": "/status/api/v2/components.json",
    "incidents": "/status/api/v2/incidents.json",
    "incidents-unresolved": "/status/api/v2/incidents/unresolved.json",
    "maintenances": "/status/api/v2/scheduled-maintenances.json",
    "maintenances-upcoming": "/status/api/v2/scheduled-maintenances/upcoming.json",
    "maintenances-active": "/status/api/v2/scheduled-maintenances/active.json",
}


def mismatches(value, shape, where="$") -> list[str]:
    """Where `value` differs from `shape` (empty: it conforms)."""
    if isinstance(shape, Nullable):
        return [] if value is None else mismatches(value, shape.shape, where)
    if shape == "component":  # components.json mixes components and groups
        return mismatches(value, GROUP if isinstance(value, dict) and value.get("group")
                          else COMPONENT, where)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        if set(value) != set(shape):
            return [f"{where}: missing {sorted(set(shape) - set(value))}, "
                    f"extra {sorted(set(value) - set(shape))}"]
        return [m for key in shape for m in mismatches(value[key], shape[key], f"{where}.{key}")]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [m for i, item in enumerate(value)
                for m in mismatches(item, shape[0], f"{where}[{i}]")]
    if isinstance(shape, re.Pattern):
        ok = isinstance(value, str) and shape.match(value)
        return [] if ok else [f"{where}: {value!r} does not match {shape.pattern}"]
    # bool is an int in Python; Statuspage's integers are never booleans.
    ok = isinstance(value, shape) and not (shape is int and isinstance(value, bool))
    return [] if ok else [f"{where}: {value!r} is not {shape.__name__}"]


def test_the_shape_checker_can_fail():
    good = {"page": {"id": "a", "name": "b", "url": "c", "time_zone": "UTC",
                     "updated_at": "2019-06-24T06:07:14.473-07:00"},
            "status": {"indicator": "none", "description": "All Systems Operational"}}
    assert mismatches(good, SHAPES["status"]) == []
    bad = {**good, "page": {**good["page"], "updated_at": "2019-06-24T06:07:14Z"}}
    assert mismatches(bad, SHAPES["status"]) == [
        "$.page.updated_at: '2019-06-24T06:07:14Z' does not match " + TIME.pattern]
    assert mismatches({"status": good["status"]}, SHAPES["status"]) == [
        "$: missing ['page'], extra []"]
    assert mismatches({**good, "status": {"indicator": 1, "description": "x"}},
                      SHAPES["status"]) == ["$.status.indicator: 1 is not str"]


@pytest.fixture(autouse=True)
def fresh_shared_cache():
    """Rendered pages are also kept in the default cache under the generation, which a test's
    database flush does not change: start each test without them."""
    caches["default"].clear()
    yield
    caches["default"].clear()


def test_locmem_default_cache_is_not_taken_for_a_shared_one():
    assert isinstance(caches["default"], LocMemCache)
    assert not cache._shared_cache()


# --- A scripted history -------------------------------------------------------------------------

def _maintenance(name, state, starts_at, components, updates):
    row = Maintenance.objects.create(name=name, body=f"{name}: the database is upgraded.",
                                     starts_at=starts_at, ends_at=starts_at + timedelta(hours=2),
                                     state=state)
    row.components.set(components)
    for offset, (update_state, body) in enumerate(updates):
        MaintenanceUpdate.objects.create(maintenance=row, state=update_state, body=body,
                                         at=starts_at - timedelta(days=1, minutes=-offset))
    return row


@pytest.fixture
def history(commander, csm, service, component, other_component):
    """Components in a group (one internal), an ungrouped one; an open incident with three
    published updates, a resolved one, a restricted one; maintenance upcoming, active, done."""
    internal = Component.objects.create(name="Ledger replica", group=component.group,
                                        position=3, internal=True)
    internal.services.add(service)
    loose = Component.objects.create(name="Public API", position=0)
    now = timezone.now()
    open_one = declare(by=commander, severity=Severity.P2, services=[service],
                       title="Checkout 502s after deploy of build 4411")
    publish(open_one, csm, subject="Checkout errors", body="Some payments fail.")
    publish(open_one, csm, phase=Phase.IDENTIFIED, subject="Checkout errors",
            body="A faulty release was found.")
    publish(open_one, csm, phase=Phase.MONITORING, subject="Checkout errors",
            body="The release was rolled back;\nwe are watching.")
    done = declare(by=commander, severity=Severity.P3, services=[service],
                   title="Ledger lag on replica db-7")
    publish(done, csm, subject="Slow receipts", body="Receipts arrive late.")
    services.transition(done, to=Status.RESOLVED, by=commander)
    publish(done, csm, phase=Phase.RESOLVED, subject="Slow receipts",
            body="Receipts are on time again.")
    secret = declare(by=commander, severity=Severity.P1, services=[service],
                     title="Suspicious admin logins")
    publish(secret, csm, subject="Hidden sign-in trouble", body="Hidden words.")
    services.set_restricted(secret, restricted=True, by=commander)
    upcoming = _maintenance("Database upgrade", MaintenanceState.SCHEDULED,
                            now + timedelta(days=3), [component, internal],
                            [(MaintenanceState.SCHEDULED, "We will upgrade the database.")])
    active = _maintenance("Network work", MaintenanceState.IN_PROGRESS,
                          now - timedelta(minutes=30), [other_component],
                          [(MaintenanceState.SCHEDULED, "Network work is planned."),
                           (MaintenanceState.IN_PROGRESS, "Network work has begun.")])
    completed = _maintenance("Old migration", MaintenanceState.COMPLETED,
                             now - timedelta(days=10), [component],
                             [(MaintenanceState.SCHEDULED, "A migration is planned."),
                              (MaintenanceState.COMPLETED, "The migration is complete.")])
    StatusPage.load()  # the branding row exists, as on any page that was ever set up
    cache.clear_local()
    return {"open": open_one, "done": done, "secret": secret, "internal": internal,
            "loose": loose, "component": component, "other": other_component,
            "upcoming": upcoming, "active": active, "completed": completed}


# Words that must never leave: incident titles, the restricted incident, the internal component.
HIDDEN = ("Checkout 502s after deploy", "Ledger lag on replica", "Suspicious admin logins",
          "Hidden sign-in trouble", "Hidden words", "Ledger replica")


def get(client, name, **headers):
    response = client.get(PATHS[name], headers=headers)
    assert response.status_code == 200, response.content[:300]
    return response


# --- Shape and values ---------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(PATHS))
def test_endpoint_has_every_documented_field_with_statuspages_types(client, history, name):
    response = get(client, name)
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    document = json.loads(response.content)
    assert mismatches(document, SHAPES[name]) == []
    for key in ("components", "incidents", "scheduled_maintenances"):
        if key in document:  # the history gives every list something to check
            assert document[key], key
    assert reverse(f"status:v2-{name}") == PATHS[name]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", [*PATHS, "atom", "rss"])
def test_restricted_incidents_internal_components_and_titles_never_leave(client, history, name):
    path = PATHS.get(name) or reverse(f"status:history-{name}")
    body = client.get(path).content.decode()
    for words in HIDDEN:
        assert words not in body, words
    for code in (history["internal"].code, history["secret"].public_incident.code):
        assert code not in body


@pytest.mark.django_db(transaction=True)
def test_summary_tells_the_scripted_history(client, history):
    summary = json.loads(get(client, "summary").content)
    page = summary["page"]
    assert page == {"id": v2.page_code(), "name": "Relay status",
                    "url": settings.SITE_URL + "/status/", "time_zone": "UTC",
                    "updated_at": page["updated_at"]}
    assert re.fullmatch(r"[0-9a-f]{12}", page["id"])
    assert page["updated_at"].endswith("Z")
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}

    component, other = history["component"], history["other"]
    rows = [(c["id"], c["name"], c["group"], c["group_id"]) for c in summary["components"]]
    assert rows == [(history["loose"].code, "Public API", False, None),
                    (component.group.code, "Payments", True, None),
                    (component.code, "Checkout", False, component.group.code),
                    (other.code, "Dashboard", False, component.group.code)]
    group = summary["components"][1]
    assert group["components"] == [component.code, other.code]
    assert group["status"] == summary["components"][2]["status"] == "partial_outage"

    [incident] = summary["incidents"]
    assert incident["id"] == history["open"].public_incident.code
    assert (incident["name"], incident["status"], incident["impact"]) == (
        "Checkout errors", "monitoring", "major")
    assert incident["shortlink"] == f"{settings.SITE_URL}/status/incidents/{incident['id']}/"
    updates = incident["incident_updates"]
    assert [(u["status"], u["body"]) for u in updates] == [
        ("monitoring", "The release was rolled back;\nwe are watching."),
        ("identified", "A faulty release was found."),
        ("investigating", "Some payments fail.")]
    assert {u["incident_id"] for u in updates} == {incident["id"]}
    assert len({u["id"] for u in updates}) == 3
    assert incident["monitoring_at"] == updates[0]["created_at"]
    assert incident["updated_at"] == updates[0]["created_at"]
    assert incident["created_at"] == updates[-1]["created_at"]
    assert incident["resolved_at"] is None
    assert [c["name"] for c in incident["components"]] == ["Checkout"]
    assert updates[0]["affected_components"] == [{"code": component.code, "name": "Checkout"}]

    shown = [(m["name"], m["status"], m["impact"]) for m in summary["scheduled_maintenances"]]
    assert shown == [("Database upgrade", "scheduled", "maintenance"),
                     ("Network work", "in_progress", "maintenance")]
    upcoming = summary["scheduled_maintenances"][0]
    assert [c["name"] for c in upcoming["components"]] == ["Checkout"]  # not the internal one
    assert upcoming["scheduled_for"] == v2.Writer(StatusPage.load()).time(
        history["upcoming"].starts_at)


@pytest.mark.django_db(transaction=True)
def test_incidents_lists_recent_and_unresolved_only_the_open_one(client, history):
    recent = json.loads(get(client, "incidents").content)["incidents"]
    assert [(i["name"], i["status"]) for i in recent] == [("Slow receipts", "resolved"),
                                                         ("Checkout errors", "monitoring")]
    resolved = recent[0]
    assert resolved["resolved_at"] == resolved["incident_updates"][0]["created_at"]
    assert resolved["impact"] == "minor"
    unresolved = json.loads(get(client, "incidents-unresolved").content)["incidents"]
    assert [i["name"] for i in unresolved] == ["Checkout errors"]


@pytest.mark.django_db(transaction=True)
def test_scheduled_maintenances_all_upcoming_and_active(client, history):
    def names(name):
        return [m["name"] for m in
                json.loads(get(client, name).content)["scheduled_maintenances"]]

    assert names("maintenances") == ["Database upgrade", "Network work", "Old migration"]
    assert names("maintenances-upcoming") == ["Database upgrade"]
    assert names("maintenances-active") == ["Network work"]
    done = json.loads(get(client, "maintenances").content)["scheduled_maintenances"][2]
    assert done["resolved_at"] == done["incident_updates"][0]["created_at"]
    assert [u["status"] for u in done["incident_updates"]] == ["completed", "scheduled"]


@pytest.mark.django_db(transaction=True)
def test_components_and_status_without_any_incident(client, component):
    status = json.loads(get(client, "status").content)
    assert status["status"] == {"indicator": "none", "description": "All Systems Operational"}
    components = json.loads(get(client, "components").content)["components"]
    assert [c["name"] for c in components] == ["Payments", "Checkout"]
    assert components[1]["start_date"] == component.created_at.date().isoformat()


@pytest.mark.django_db
def test_times_are_in_the_page_zone_with_milliseconds_as_statuspage_writes_them():
    at = datetime(2019, 2, 20, 18, 0, 19, 418_512, tzinfo=UTC)
    page = StatusPage.load()
    assert v2.Writer(page).time(at) == "2019-02-20T18:00:19.418Z"
    page.time_zone = "America/Chicago"
    assert v2.Writer(page).time(at) == "2019-02-20T12:00:19.418-06:00"
    page.time_zone = "Europe/London"  # zero offset, but not UTC: Statuspage writes the offset
    assert v2.Writer(page).time(at) == "2019-02-20T18:00:19.418+00:00"
    assert v2.Writer(page).time(None) is None


@pytest.mark.django_db(transaction=True)
def test_summary_in_the_pages_zone(client, history):
    page = StatusPage.load()
    page.time_zone = "Asia/Kolkata"
    page.save()
    cache.clear_local()
    summary = json.loads(get(client, "summary").content)
    assert summary["page"]["time_zone"] == "Asia/Kolkata"
    stamps = [summary["page"]["updated_at"], summary["incidents"][0]["created_at"],
              summary["scheduled_maintenances"][0]["scheduled_for"]]
    assert all(stamp.endswith("+05:30") for stamp in stamps), stamps


@pytest.mark.django_db(transaction=True)
def test_bodies_stay_text_in_json(client, commander, csm, incident, component):
    publish(incident, csm, subject="<b>Checkout</b>", body='<script>alert("x")</script> & co')
    cache.clear_local()
    response = get(client, "incidents")
    update = json.loads(response.content)["incidents"][0]["incident_updates"][0]
    assert update["body"] == '<script>alert("x")</script> & co'
    assert json.loads(response.content)["incidents"][0]["name"] == "<b>Checkout</b>"


# --- Serving ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_summary_query_count_is_constant_and_zero_when_warm(client, history, commander, csm,
                                                           service, django_assert_num_queries):
    with CaptureQueriesContext(connection) as cold:
        first = get(client, "summary")
    for n in range(3):  # more incidents, updates and maintenance: no more queries
        more = declare(by=commander, severity=Severity.P3, services=[service])
        publish(more, csm, subject=f"More trouble {n}", body=f"Trouble number {n}.")
        _maintenance(f"Extra work {n}", MaintenanceState.SCHEDULED,
                     timezone.now() + timedelta(days=5 + n), [history["component"]],
                     [(MaintenanceState.SCHEDULED, "Planned.")])
    cache.clear_local()
    with CaptureQueriesContext(connection) as colder:
        bigger = get(client, "summary")
    assert len(json.loads(bigger.content)["incidents"]) == 4
    assert len(colder) == len(cold) <= 16, [q["sql"] for q in colder]
    with django_assert_num_queries(0):
        warm = get(client, "summary")
    assert warm.content == bigger.content != first.content
    assert warm["ETag"] == bigger["ETag"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(PATHS))
def test_conditional_head_and_post(client, history, name):
    first = get(client, name)
    again = client.get(PATHS[name], headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert again["Access-Control-Allow-Origin"] == "*"
    head = client.head(PATHS[name])
    assert head.status_code == 200 and head.content == b""
    assert (head["Content-Type"], head["ETag"]) == ("application/json", first["ETag"])
    for method in (client.post, client.put, client.delete):
        refused = method(PATHS[name])
        assert refused.status_code == 405
        assert refused["Allow"] == "GET, HEAD"
