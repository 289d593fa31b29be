"""The quiet join (one SQL statement, hot.JOIN_QUIETLY) and _route (the ORM) decide the same
thing: which open incident a new alert joins. Each case below is fed to both, and they must agree:

- when the quiet join links the alert, _route would have linked it to the same incident, with the
  same severity, and done nothing else (no timeline entry, no incident declared or changed);
- when _route would only link it, the quiet join links it too, except when _route's flap guard
  counts the alert as flapping (flap_threshold resolved alerts with its key in the flap window):
  that path belongs to _route, which may send the alert back to another incident or reopen it.

The quiet join declines everything else _route does more for: a timeline that names fewer than
ALERT_ENTRIES_PER_INCIDENT alerts (an entry), a more severe alert (severity raised), no open
incident to join (declare), a drop rule (suppress)."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from incidents import services
from incidents.intake import pipeline, routing
from incidents.models import (
    Alert,
    AlertRule,
    AlertStatus,
    Incident,
    RuleAction,
    Service,
    Status,
    TimelineEntry,
)
from tests.incidents.conftest import make_integration

pytestmark = pytest.mark.django_db

FULL = pipeline.ALERT_ENTRIES_PER_INCIDENT
JOIN, MORE, FLAP = "both join", "_route does more", "_route's flap guard"


@dataclass(frozen=True)
class Case:
    expect: str
    earlier: int = FULL  # alerts the incident already has
    earlier_age: int = 0  # minutes since they were last seen
    earlier_key: str = ""
    incident_status: str = Status.TRIGGERED
    incident_severity: str = "P3"
    other_service: bool = False  # the open incident belongs to another service
    group_by: str = "service"
    key: str = ""  # the new alert's grouping key
    severity: str = "P3"
    rule: str = ""  # "drop" or "lower" (severity P4) for every alert
    resolved: int = 0  # resolved alerts with the new alert's dedup key, on the incident
    resolved_age: int = 5
    flap_threshold: int = 3
    older_open: bool = False  # a second, older open incident of the service with recent alerts


CASES = {
    "storm joins its incident": Case(JOIN),
    "exactly a full timeline": Case(JOIN, earlier=FULL),
    "one alert short of a full timeline": Case(MORE, earlier=FULL - 1),
    "a less severe alert": Case(JOIN, severity="P4"),
    "a more severe alert": Case(MORE, severity="P2"),
    "a severity rule lowers it": Case(JOIN, severity="P2", rule="lower"),
    "a drop rule": Case(MORE, rule="drop"),
    "the open incident is another service's": Case(MORE, other_service=True),
    "the incident's alerts are older than the window": Case(MORE, earlier_age=300),
    "the incident's alerts are just inside the window": Case(JOIN, earlier_age=200),
    "the incident is resolved": Case(MORE, incident_status=Status.RESOLVED),
    "the incident is declined": Case(MORE, incident_status=Status.DECLINED),
    "the incident is acknowledged": Case(JOIN, incident_status=Status.ACKNOWLEDGED),
    "group by key, same key": Case(JOIN, group_by="key", key="db", earlier_key="db"),
    "group by key, another key": Case(MORE, group_by="key", key="web", earlier_key="db"),
    "group by service ignores the key": Case(JOIN, key="web", earlier_key="db"),
    "the newest of two open incidents": Case(JOIN, older_open=True),
    "one re-fire, below the flap threshold": Case(JOIN, resolved=1),
    "re-fires with no flap threshold": Case(JOIN, resolved=3, flap_threshold=0),
    "re-fires outside the flap window": Case(JOIN, resolved=3, resolved_age=120),
    "flapping onto its open incident": Case(FLAP, resolved=3),
    "flapping onto its resolved incident": Case(MORE, resolved=3, incident_status=Status.RESOLVED),
    "flapping with another open incident": Case(FLAP, resolved=3, older_open=True),
    "flapping onto a declined incident, another open": Case(
        FLAP, resolved=3, incident_status=Status.DECLINED, older_open=True),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_quiet_join_and_route_agree(case, service, team):
    alert = _world(case, service, team)
    quiet = _dry_run(lambda: pipeline._join_quietly(alert, routing.routing_for(service.pk)),
                     alert)
    routed = _dry_run(lambda: pipeline._route(alert, routing.routing_for(service.pk), "test"),
                      alert)
    if quiet.joined:
        assert routed.only_linked and routed.link == quiet.link
    elif routed.only_linked:
        assert _flap_guard_fires(alert, service)
    outcome = JOIN if quiet.joined else FLAP if routed.only_linked else MORE
    assert outcome == case.expect


@dataclass(frozen=True)
class Effect:
    joined: bool  # what the function returned (the quiet join) or None (_route)
    link: tuple  # the alert's (incident, severity, processed, status) afterwards
    only_linked: bool  # the alert joined an incident and nothing else in the database changed


class _Undo(Exception):
    pass


def _dry_run(run, alert) -> Effect:
    """Run one decision and roll it back, reporting what it changed."""
    before = _state()
    try:
        with transaction.atomic():
            joined = run()
            row = Alert.objects.get(pk=alert.pk)
            link = (row.incident_id, row.severity, row.processed, row.status)
            unchanged = _state() == before
            raise _Undo
    except _Undo:
        pass
    pipeline.full_timelines.clear()  # a process cache the rolled-back run may have filled
    only_linked = (link[0] is not None and link[2] and link[3] == AlertStatus.TRIGGERED
                   and unchanged)
    return Effect(bool(joined), link, only_linked)


def _state() -> tuple:
    incidents = list(Incident.objects.order_by("pk").values_list("pk", "status", "severity"))
    return incidents, TimelineEntry.objects.count()


def _flap_guard_fires(alert, service) -> bool:
    """_route's flap guard counts the alert as flapping (whether or not the incident it flapped
    on can still take it)."""
    flaps = Alert.objects.filter(
        integration_id=alert.integration_id, dedup_key=alert.dedup_key,
        status=AlertStatus.RESOLVED, incident__isnull=False,
        resolved_at__gte=timezone.now() - timedelta(minutes=service.flap_window_minutes))
    return bool(service.flap_threshold) and flaps.count() >= service.flap_threshold


def _world(case: Case, service, team) -> Alert:
    """The service, its open incident with its alerts, and a new alert not yet grouped."""
    Service.objects.filter(pk=service.pk).update(
        group_by=case.group_by, group_window_minutes=240, flap_threshold=case.flap_threshold,
        flap_window_minutes=60)
    service.refresh_from_db()
    integration, _ = make_integration(service)
    if case.older_open:
        _incident(service, integration, Case(JOIN), "older")
    home = service
    if case.other_service:
        home = Service.objects.create(name="Search", slug="search", team=team)
    incident = _incident(home, make_integration(home)[0] if case.other_service else integration,
                         case, "earlier")
    _rules(case, service)
    now = timezone.now()
    Alert.objects.bulk_create(
        Alert(integration=integration, service=service, incident=incident, dedup_key="new",
              summary="node down", status=AlertStatus.RESOLVED, processed=True,
              resolved_at=now - timedelta(minutes=case.resolved_age),
              last_seen=now - timedelta(minutes=case.earlier_age))
        for _ in range(case.resolved))
    routing.forget_routing()
    return Alert.objects.create(integration=integration, service=service, dedup_key="new",
                                grouping_key=case.key, severity=case.severity,
                                summary="node down")


def _incident(service, integration, case: Case, prefix: str) -> Incident:
    incident = services.declare(title=f"{prefix} trouble", severity=case.incident_severity,
                                services=[service], actor_label="test", page=False)
    Incident.objects.filter(pk=incident.pk).update(status=case.incident_status)
    seen = timezone.now() - timedelta(minutes=case.earlier_age)
    Alert.objects.bulk_create(
        Alert(integration=integration, service=service, incident=incident, processed=True,
              dedup_key=f"{prefix}-{i}", grouping_key=case.earlier_key, summary="earlier",
              severity=case.incident_severity, first_seen=seen, last_seen=seen)
        for i in range(case.earlier))
    return incident


def _rules(case: Case, service) -> None:
    if case.rule == "drop":
        AlertRule.objects.create(name="drop it", service=service, value="node",
                                 action=RuleAction.DROP, position=1)
    if case.rule == "lower":
        AlertRule.objects.create(name="minor", service=service, value="node",
                                 action=RuleAction.SEVERITY, severity="P4", position=1)
