"""The pipeline behind every format: the error contract, dedup, grouping, flapping, auto-resolve,
recovery of unprocessed alerts, and parallel identical alerts on PostgreSQL."""

import json
import multiprocessing
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from incidents.intake import keys, pipeline, routing, services
from incidents.intake.formats import generic
from incidents.models import (
    Alert,
    AlertRule,
    AlertStatus,
    EntryKind,
    EscalationRun,
    Incident,
    MaintenanceWindow,
    MatchField,
    Page,
    RuleAction,
    Service,
    Status,
)
from incidents.paging import escalation
from oncall.models import ContactMethod
from tests.incidents.conftest import make_integration
from tests.oncall.conftest import make_policy

pytestmark = pytest.mark.django_db


def send(client, key, **body):
    body.setdefault("summary", "Checkout 5xx above 5%")
    return client.post(f"/integrations/generic/{key}/", data=json.dumps(body),
                       content_type="application/json")


def test_unknown_key_is_404_without_hint(client, generic_key):
    response = send(client, "0" * 32)
    assert response.status_code == 404
    assert response.json() == {"status": "not found", "message": "Not found."}


def test_key_of_another_format_is_404(client, alertmanager_key):
    assert send(client, alertmanager_key).status_code == 404


def test_disabled_integration_is_404(client, service):
    integration, key = make_integration(service, enabled=False)
    assert send(client, key).status_code == 404


def test_rotated_key_replaces_the_old_one(client, service):
    integration, old = make_integration(service)
    assert send(client, old).status_code == 202
    new = services.rotate_integration_key(by=None, integration=integration)
    assert send(client, old).status_code == 404
    assert send(client, new, summary="other").status_code == 202


def test_malformed_json_is_400_naming_the_body(client, generic_key):
    response = client.post(f"/integrations/generic/{generic_key}/", data="{not json",
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_missing_summary_is_400_naming_the_field(client, generic_key):
    response = client.post(f"/integrations/generic/{generic_key}/", data="{}",
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "summary"


def test_body_over_512_kb_is_413_and_nothing_stored(client, generic_key):
    big = json.dumps({"summary": "x", "details": {"blob": "a" * (512 * 1024)}})
    response = client.post(f"/integrations/generic/{generic_key}/", data=big,
                           content_type="application/json")
    assert response.status_code == 413
    assert Alert.objects.count() == 0


def test_over_rate_is_429_with_retry_after_and_accepted_alerts_kept(client, service):
    _, key = make_integration(service, rate_limit_per_minute=3)
    statuses = [send(client, key, summary=f"alert {i}").status_code for i in range(4)]
    assert statuses == [202, 202, 202, 429]
    response = send(client, key)
    assert 1 <= int(response["Retry-After"]) <= 61
    assert Alert.objects.count() == 3


def test_get_is_405(client, generic_key):
    assert client.get(f"/integrations/generic/{generic_key}/").status_code == 405


def test_new_alerts_group_into_the_services_open_incident(client, generic_key):
    send(client, generic_key, summary="DB latency high", dedup_key="a")
    send(client, generic_key, summary="API errors", dedup_key="b")
    assert Incident.objects.count() == 1
    assert Incident.objects.get().alerts.count() == 2


def test_group_by_key_keeps_unrelated_alerts_apart(client, service, generic_key):
    Service.objects.filter(pk=service.pk).update(group_by="key")
    send(client, generic_key, summary="a", dedup_key="a", grouping_key="db")
    send(client, generic_key, summary="b", dedup_key="b", grouping_key="db")
    send(client, generic_key, summary="c", dedup_key="c", grouping_key="web")
    assert Incident.objects.count() == 2


def test_alert_outside_the_window_declares_a_new_incident(client, service, generic_key):
    send(client, generic_key, summary="a", dedup_key="a")
    Alert.objects.update(last_seen=timezone.now() - timedelta(minutes=241))
    send(client, generic_key, summary="b", dedup_key="b")
    assert Incident.objects.count() == 2


def test_incident_waits_for_all_alerts_before_auto_resolving(client, generic_key):
    send(client, generic_key, dedup_key="a")
    send(client, generic_key, dedup_key="b")
    send(client, generic_key, action="resolve", dedup_key="a")
    incident = Incident.objects.get()
    assert incident.status == Status.TRIGGERED
    send(client, generic_key, action="resolve", dedup_key="b")
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_service_without_auto_resolve_keeps_incident_open(client, service, generic_key):
    Service.objects.filter(pk=service.pk).update(auto_resolve=False)
    send(client, generic_key, dedup_key="a")
    send(client, generic_key, action="resolve", dedup_key="a")
    assert Incident.objects.get().status == Status.TRIGGERED
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_flapping_alert_is_grouped_into_its_incident_instead_of_redeclared(
        client, service, generic_key):
    Service.objects.filter(pk=service.pk).update(flap_threshold=2, flap_window_minutes=30)
    for _ in range(3):
        send(client, generic_key, dedup_key="flappy")
        send(client, generic_key, action="resolve", dedup_key="flappy")
    # Fired 3 times: the second re-fire (after 2 resolves) reopens the incident of the last.
    send(client, generic_key, dedup_key="flappy")
    incidents = list(Incident.objects.order_by("pk"))
    assert len(incidents) == 2
    flapped = incidents[-1]
    assert flapped.status == Status.INVESTIGATING
    entry = flapped.timeline.filter(kind=EntryKind.ALERT).last()
    assert entry.data["flapping"] is True


def test_unprocessed_alert_is_picked_up_by_the_sweep(service):
    integration, key = make_integration(service)
    ref = keys.find_integration(key)
    event = pipeline.AlertEvent(action="trigger", dedup_key="k", summary="stored, not grouped")
    # Stored, as if the process died before grouping.
    alert_id, count, processed = pipeline._upsert(ref, pipeline._stored_fields(event))
    Alert.objects.filter(pk=alert_id).update(first_seen=timezone.now() - timedelta(minutes=5))
    assert pipeline.process_pending() == 1
    alert = Alert.objects.get(pk=alert_id)
    assert alert.processed and alert.incident is not None


def test_stale_alerts_are_closed_on_the_timeline(client, service, generic_key):
    Service.objects.filter(pk=service.pk).update(stale_alert_days=3)
    send(client, generic_key, dedup_key="old")
    send(client, generic_key, dedup_key="fresh")
    Alert.objects.filter(dedup_key="old").update(last_seen=timezone.now() - timedelta(days=4))
    assert pipeline.close_stale_alerts() == 1
    old = Alert.objects.get(dedup_key="old")
    assert old.status == AlertStatus.RESOLVED
    entry = old.incident.timeline.get(kind=EntryKind.ALERT_RESOLVED)
    assert entry.data["reason"] == "stale"
    assert old.incident.status == Status.TRIGGERED  # "fresh" is still open


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _fire_in_child(key, body, barrier, results):
    """One forked process: its own database connection, one event through the pipeline."""
    connection.close()  # never reuse the parent's socket
    barrier.wait()
    ref = keys.find_integration(key)
    outcome = pipeline.ingest(ref, generic.parse(body))[0]
    results.put(outcome.alert_id)
    connection.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_50_identical_parallel_alerts_make_one_incident_and_one_alert(team):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel writers: PostgreSQL only")
    service = Service.objects.create(name="Payments", slug="payments", team=team)
    _, key = make_integration(service)
    body = {"summary": "Payments down", "dedup_key": "payments-down", "severity": "critical"}
    forked = multiprocessing.get_context("fork")
    barrier, results = forked.Barrier(50), forked.Queue()
    connection.close()
    children = [forked.Process(target=_fire_in_child, args=(key, body, barrier, results))
                for _ in range(50)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0] * 50
    alert = Alert.objects.get()
    assert {results.get(timeout=5) for _ in range(50)} == {alert.pk}
    assert alert.count == 50
    assert Incident.objects.count() == 1
    assert alert.incident.timeline.filter(kind=EntryKind.ALERT).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_identical_parallel_http_requests_count_on_one_alert(live_server, team):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel writers: PostgreSQL only")
    service = Service.objects.create(name="Ledger", slug="ledger", team=team)
    _, key = make_integration(service)
    url = f"{live_server.url}/integrations/generic/{key}/"
    body = {"summary": "Ledger lagging", "dedup_key": "ledger-lag"}
    # The live server's listen backlog is 10: stay under it so no connection is refused.
    start = threading.Barrier(8)

    def fire(_):
        start.wait()
        return _post(url, body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fire, range(8)))
    assert statuses == [202] * 8
    assert Alert.objects.get().count == 8
    assert Incident.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_distinct_alerts_for_one_service_make_one_incident(live_server, team):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel writers: PostgreSQL only")
    service = Service.objects.create(name="Search", slug="search", team=team)
    _, key = make_integration(service)
    url = f"{live_server.url}/integrations/generic/{key}/"
    start = threading.Barrier(8)

    def fire(i):
        start.wait()
        return _post(url, {"summary": f"node {i} down", "dedup_key": f"node-{i}"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fire, range(8)))
    assert statuses == [202] * 8
    assert Alert.objects.count() == 8
    assert Incident.objects.count() == 1
    assert Alert.objects.filter(incident__isnull=True).count() == 0


def test_storm_names_the_first_alerts_on_the_timeline_and_keeps_all_in_the_list(
        client, generic_key):
    for i in range(pipeline.ALERT_ENTRIES_PER_INCIDENT + 5):
        send(client, generic_key, summary=f"node {i} down", dedup_key=f"node-{i}")
    incident = Incident.objects.get()
    assert incident.alerts.count() == pipeline.ALERT_ENTRIES_PER_INCIDENT + 5
    entries = incident.timeline.filter(kind=EntryKind.ALERT).count()
    assert entries == pipeline.ALERT_ENTRIES_PER_INCIDENT


# --- cost of the hot paths: statements per event stay constant ----------------------------------


def _ingest(key, dedup_key, severity="error", summary="node down"):
    ref = keys.find_integration(key)
    event = generic.parse({"summary": summary, "dedup_key": dedup_key, "severity": severity})
    return pipeline.ingest(ref, event)


def test_a_repeat_of_an_open_alert_costs_one_statement(generic_key,
                                                       django_assert_max_num_queries):
    _ingest(generic_key, "a")
    with django_assert_max_num_queries(1):
        _ingest(generic_key, "a")
    assert Alert.objects.get().count == 2


def test_a_new_alert_joining_a_storm_costs_two_statements(generic_key,
                                                          django_assert_max_num_queries):
    for i in range(pipeline.ALERT_ENTRIES_PER_INCIDENT + 1):
        _ingest(generic_key, f"node-{i}")
    # The upsert, and one UPDATE that finds the incident, claims the alert and links it.
    with django_assert_max_num_queries(2):
        _ingest(generic_key, "one-more")
    incident = Incident.objects.get()
    assert Alert.objects.get(dedup_key="one-more").incident == incident
    assert Alert.objects.get(dedup_key="one-more").processed


def test_a_new_alert_named_on_the_timeline_stays_cheap(generic_key,
                                                       django_assert_max_num_queries):
    _ingest(generic_key, "first")
    # One more than before the quiet join: its attempt, which finds the timeline not yet full.
    with django_assert_max_num_queries(14):
        _ingest(generic_key, "second")
    assert Incident.objects.get().timeline.filter(kind=EntryKind.ALERT).count() == 2


def test_a_rule_saved_after_alerts_applies_to_the_next_alert(generic_key, service):
    _ingest(generic_key, "before", severity="warning")
    AlertRule.objects.create(name="all quiet", service=service, match_field=MatchField.ANY,
                             action=RuleAction.DROP)
    _ingest(generic_key, "after", severity="warning")
    assert Alert.objects.get(dedup_key="after").status == AlertStatus.SUPPRESSED


def test_a_maintenance_window_saved_after_alerts_stops_paging(generic_key, service):
    _ingest(generic_key, "before")
    Incident.objects.update(status=Status.RESOLVED)
    now = timezone.now()
    MaintenanceWindow.objects.create(service=service, reason="DB upgrade",
                                     starts_at=now - timedelta(minutes=1),
                                     ends_at=now + timedelta(hours=1))
    _ingest(generic_key, "during")
    entry = Alert.objects.get(dedup_key="during").incident.timeline.get(kind=EntryKind.ALERT)
    assert entry.data["maintenance"] == "DB upgrade" and entry.data["paged"] is False


# --- severity of an incident follows its most severe alert upward ------------------------------


def test_more_severe_alert_raises_the_incident_severity_on_the_timeline(generic_key):
    _ingest(generic_key, "a", severity="warning")
    incident = Incident.objects.get()
    assert incident.severity == "P3"
    _ingest(generic_key, "b", severity="critical", summary="Primary database down")
    incident.refresh_from_db()
    assert incident.severity == "P1"
    entry = incident.timeline.get(kind=EntryKind.SEVERITY)
    assert (entry.old_value, entry.new_value) == ("P3", "P1")
    assert entry.actor_label.startswith("integration: ")
    assert "Primary database down" in entry.note


def test_less_severe_alert_never_lowers_the_incident_severity(generic_key):
    _ingest(generic_key, "a", severity="critical")
    _ingest(generic_key, "b", severity="info")
    for i in range(pipeline.ALERT_ENTRIES_PER_INCIDENT + 1):
        _ingest(generic_key, f"quiet-{i}", severity="warning")
    incident = Incident.objects.get()
    assert incident.severity == "P1"
    assert not incident.timeline.filter(kind=EntryKind.SEVERITY).exists()


def test_severity_is_raised_after_the_timeline_stops_naming_alerts(generic_key):
    for i in range(pipeline.ALERT_ENTRIES_PER_INCIDENT + 1):
        _ingest(generic_key, f"node-{i}", severity="warning")
    _ingest(generic_key, "late", severity="critical")
    assert Incident.objects.get().severity == "P1"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_storm_pages_each_person_once_per_step(live_server, team, responder):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel writers: PostgreSQL only")
    policy = make_policy({"users": [responder], "delay": 5}, name="Storm")
    ContactMethod.objects.create(user=responder, kind="email", address="r@example.com")
    service = Service.objects.create(name="Storm", slug="storm", team=team,
                                     escalation_policy=policy)
    _, key = make_integration(service)
    url = f"{live_server.url}/integrations/generic/{key}/"
    start = threading.Barrier(8)

    def fire(i):
        start.wait()
        return [_post(url, {"summary": f"node {i}-{n} down", "dedup_key": f"node-{i}-{n}"})
                for n in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for batch in pool.map(fire, range(8)) for s in batch]
    assert statuses == [202] * 40
    incident = Incident.objects.get()
    assert incident.alerts.count() == 40
    run = EscalationRun.objects.get(incident=incident)
    escalation.advance(run.pk)
    escalation.advance(run.pk)
    assert Page.objects.filter(incident=incident, user=responder).count() == 1


# --- the quiet join: a storm's new alerts join in one statement, never when _route would do more


@pytest.fixture
def storm(generic_key):
    """An open incident whose timeline already names as many alerts as it will."""
    for i in range(pipeline.ALERT_ENTRIES_PER_INCIDENT + 1):
        _ingest(generic_key, f"storm-{i}", severity="warning")
    return Incident.objects.get()


def _joined_quietly(key, dedup_key, **event) -> Alert:
    _ingest(key, dedup_key, **event)
    return Alert.objects.get(dedup_key=dedup_key)


def test_quiet_join_links_a_storm_alert_without_a_timeline_entry(storm, generic_key):
    entries = storm.timeline.count()
    alert = _joined_quietly(generic_key, "late", severity="info")
    assert (alert.incident_id, alert.processed, alert.severity) == (storm.pk, True, "P4")
    assert storm.timeline.count() == entries


def test_quiet_join_still_raises_severity_for_a_more_severe_alert(storm, generic_key):
    _ingest(generic_key, "worse", severity="critical", summary="Primary database down")
    storm.refresh_from_db()
    assert storm.severity == "P1"
    assert storm.timeline.filter(kind=EntryKind.SEVERITY).exists()
    assert Alert.objects.get(dedup_key="worse").incident == storm


def test_quiet_join_applies_severity_and_drop_rules(storm, generic_key, service):
    AlertRule.objects.create(name="disk is minor", service=service, value="disk",
                             action=RuleAction.SEVERITY, severity="P4", position=1)
    AlertRule.objects.create(name="ignore noise", service=service, value="noise",
                             action=RuleAction.DROP, position=2)
    minor = _joined_quietly(generic_key, "disk", severity="warning", summary="disk 91% full")
    assert (minor.incident_id, minor.severity) == (storm.pk, "P4")
    dropped = _joined_quietly(generic_key, "noise", summary="noise from staging")
    assert dropped.status == AlertStatus.SUPPRESSED and dropped.incident_id is None


def test_quiet_join_respects_group_by_key(storm, generic_key, service):
    Service.objects.filter(pk=service.pk).update(group_by="key")
    routing.forget_routing()  # as a save would
    ref = keys.find_integration(generic_key)
    pipeline.ingest(ref, generic.parse({"summary": "web down", "dedup_key": "elsewhere",
                                      "grouping_key": "web"}))
    alert = Alert.objects.get(dedup_key="elsewhere")
    assert alert.incident_id is not None and alert.incident_id != storm.pk
    same = _joined_quietly(generic_key, "same group")  # the storm's (empty) grouping key
    assert same.incident_id == storm.pk


def test_quiet_join_leaves_a_flapping_alert_to_the_flap_guard(storm, generic_key, service):
    """The flap guard sends a flapping alert back to its last incident (reopened), even while
    another open incident of the service would take it."""
    Service.objects.filter(pk=service.pk).update(flap_threshold=1, flap_window_minutes=30)
    routing.forget_routing()  # as a save would
    _ingest(generic_key, "flappy")
    ref = keys.find_integration(generic_key)
    pipeline.ingest(ref, generic.parse({"summary": "x", "dedup_key": "flappy",
                                      "action": "resolve"}))
    Incident.objects.filter(pk=storm.pk).update(status=Status.RESOLVED)
    for i in range(pipeline.ALERT_ENTRIES_PER_INCIDENT + 1):
        _ingest(generic_key, f"second-storm-{i}", severity="warning")
    second = Incident.objects.exclude(pk=storm.pk).get()
    _ingest(generic_key, "flappy")
    again = Alert.objects.filter(dedup_key="flappy").order_by("-pk").first()
    assert again.incident_id == storm.pk != second.pk
    storm.refresh_from_db()
    assert storm.status == Status.INVESTIGATING


def test_quiet_join_never_joins_an_incident_quiet_for_longer_than_the_window(storm, generic_key,
                                                                               service):
    Alert.objects.update(last_seen=timezone.now() - timedelta(hours=3))
    Service.objects.filter(pk=service.pk).update(group_window_minutes=60)
    routing.forget_routing()  # as a save would
    alert = _joined_quietly(generic_key, "much later")
    assert alert.incident_id != storm.pk and Incident.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_resolving_the_last_two_alerts_at_once_resolves_the_incident(generic_key):
    """The second resolve waits for the first on the incident's row, then sees it: without
    that lock each would see the other alert still open and the incident would stay open."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks and parallel writers: PostgreSQL only")
    _ingest(generic_key, "a")
    _ingest(generic_key, "b")
    ref = keys.find_integration(generic_key)
    first_in, second_done = threading.Event(), threading.Event()

    def resolve(dedup_key, hold: bool):
        try:
            with transaction.atomic():
                pipeline.resolve_alerts(ref, dedup_key)
                if hold:  # commit only once the other resolve is under way
                    first_in.set()
                    second_done.wait(1.0)
        finally:
            connection.close()

    first = threading.Thread(target=resolve, args=("a", True))
    first.start()
    assert first_in.wait(10)
    second = threading.Thread(target=lambda: (resolve("b", False), second_done.set()))
    second.start()
    first.join(10)
    second.join(10)
    assert Alert.objects.filter(status=AlertStatus.RESOLVED).count() == 2
    assert Incident.objects.get().status == Status.RESOLVED
