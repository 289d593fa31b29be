"""An incident's SLA clocks: created on declaration, recomputed on what they depend on,
stopped by acknowledgement, publication and resolution, paused while waiting on the customer."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from comms.models import (
    BusinessCalendar,
    ClockPause,
    ClockState,
    Holiday,
    ResponseOn,
    SlaClock,
    SlaTarget,
)
from comms.sla import clocks, services
from comms.sla.hours import Calendar
from config.errors import Conflict, NotAllowed
from incidents import services as incident_services
from incidents.models import CustomerTier, EntryKind, Incident
from incidents.timeline import record
from tests.comms.sla.conftest import affect, give_targets, make_customer
from tests.conftest import declare

pytestmark = pytest.mark.django_db
HOURS_2 = timedelta(hours=2)


def live(incident, kind=None):
    rows = SlaClock.objects.filter(incident=incident, replaced_at=None).order_by("kind", "key")
    return list(rows.filter(kind=kind) if kind else rows)


def sla_notes(incident):
    return [e.note for e in incident.timeline.filter(kind=EntryKind.SLA).order_by("seq")]


def test_declaring_with_a_tier_starts_its_clocks_at_detection(commander, enterprise):
    incident = declare(by=commander, customer_tiers=[enterprise])
    response, resolution = live(incident, "response")[0], live(incident, "resolution")[0]
    assert response.started_at == incident.detected_at
    assert response.due_at == incident.detected_at + timedelta(minutes=30)
    assert response.amber_at == incident.detected_at + timedelta(minutes=15)
    assert response.red_at == incident.detected_at + timedelta(minutes=24)
    assert response.next_alert_at == response.amber_at
    assert resolution.target_minutes == 480 and resolution.state == ClockState.RUNNING
    assert sla_notes(incident) == ["Response clock for Enterprise: 30m (P2)\n"
                                   "Resolution clock for Enterprise: 8h (P2)"]


def test_an_incident_without_tiers_or_customers_costs_the_listener_little(
        commander, django_assert_num_queries):
    incident = declare(by=commander)
    assert not SlaClock.objects.exists()
    declared = incident.timeline.get(kind=EntryKind.DECLARED)
    with django_assert_num_queries(0):
        services.on_timeline(incident, declared)
    with transaction.atomic():
        status = record(incident, EntryKind.NOTE, commander, note="x")
    status.kind = EntryKind.STATUS
    with django_assert_num_queries(1):
        services.on_timeline(incident, status)


def test_severity_change_replaces_clocks_and_says_so_once(commander, enterprise):
    incident = declare(by=commander, customer_tiers=[enterprise], severity="P3")
    first = live(incident, "response")[0]
    incident_services.change_severity(incident, severity="P1", by=commander)
    first.refresh_from_db()
    assert first.replaced_at is not None and first.state == ClockState.REPLACED
    response = live(incident, "response")[0]
    assert response.target_minutes == 15 and response.started_at == incident.detected_at
    assert sla_notes(incident)[-1] == ("Response clock for Enterprise: 1h → 15m "
                                       "(severity P3 → P1)\n"
                                       "Resolution clock for Enterprise: 1d → 4h "
                                       "(severity P3 → P1)")
    count = len(sla_notes(incident))
    incident_services.transition(incident, to="investigating", by=commander)
    incident_services.update_details(incident, by=commander, title="Still the same clocks")
    assert len(sla_notes(incident)) == count  # nothing changed, nothing written


def test_contract_targets_win_and_cover_their_tier(commander, enterprise, csm):
    incident = declare(by=commander, customer_tiers=[enterprise])
    acme = make_customer("Acme", enterprise, csm, P2=(10, None))
    affect(incident, acme, by=csm)
    clocks_now = live(incident)
    assert {(c.kind, c.key, c.source, c.target_minutes) for c in clocks_now} == {
        ("response", f"customer:{acme.pk}", "contract", 10),
        ("resolution", f"customer:{acme.pk}", "tier", 480),
    }
    assert "Response clock for Enterprise: 30m removed" in sla_notes(incident)[-1]
    assert "Response clock for Acme: 10m (P2)" in sla_notes(incident)[-1]


def test_a_tier_named_directly_gets_clocks_beside_another_tiers_customer(commander, enterprise):
    business = give_targets(CustomerTier.objects.create(name="Business", slug="business"))
    acme = make_customer("Acme", enterprise)
    incident = declare(by=commander, customer_tiers=[business])
    affect(incident, acme)
    keys = {c.key for c in live(incident)}
    assert keys == {f"customer:{acme.pk}", f"tier:{business.pk}"}


def test_acknowledgement_meets_the_response_clock_and_resolution_meets_the_other(
        commander, enterprise):
    incident = declare(by=commander, customer_tiers=[enterprise])
    incident_services.acknowledge(incident, by=commander)
    response = live(incident, "response")[0]
    assert response.state == ClockState.MET and response.used_seconds < 60
    assert response.next_alert_at is None and response.stopped_at == incident.acknowledged_at
    resolution = live(incident, "resolution")[0]
    assert resolution.state == ClockState.RUNNING
    incident_services.transition(incident, to="resolved", by=commander)
    resolution.refresh_from_db()
    assert resolution.state == ClockState.MET and resolution.stopped_at == incident.resolved_at


def test_reopening_resumes_the_resolution_clock_without_counting_the_resolved_span(
        commander, enterprise):
    incident = declare(by=commander, customer_tiers=[enterprise])
    # Detected two hours ago, resolved an hour ago.
    Incident.objects.filter(pk=incident.pk).update(detected_at=F("detected_at") - HOURS_2)
    SlaClock.objects.filter(incident=incident).update(started_at=F("started_at") - HOURS_2)
    incident.refresh_from_db()
    incident_services.transition(incident, to="resolved", by=commander)
    SlaClock.objects.filter(incident=incident).update(
        stopped_at=incident.resolved_at - timedelta(hours=1))
    incident_services.transition(incident, to="investigating", by=commander)
    resolution = live(incident, "resolution")[0]
    assert resolution.state == ClockState.RUNNING and resolution.stopped_at is None
    pause = ClockPause.objects.get(incident=incident)
    assert pause.reason == "Resolved until reopened" and pause.ended_at is not None
    assert resolution.due_at == resolution.started_at + timedelta(minutes=480) + (
        pause.ended_at - pause.started_at)
    assert pause.ended_at - pause.started_at >= timedelta(hours=1)


def test_response_on_message_waits_for_the_first_published_message(commander, enterprise):
    SlaTarget.objects.filter(tier=enterprise).update(response_on=ResponseOn.MESSAGE)
    incident = declare(by=commander, customer_tiers=[enterprise])
    incident_services.acknowledge(incident, by=commander)
    assert live(incident, "response")[0].state == ClockState.RUNNING
    with transaction.atomic():
        Incident.objects.select_for_update().get(pk=incident.pk)
        published = record(incident, EntryKind.MESSAGE_PUBLISHED, commander, note="We are on it")
    response = live(incident, "response")[0]
    assert response.state == ClockState.MET and response.stopped_at == published.created_at


def test_pause_and_resume_move_the_due_time_by_the_pause(commander, enterprise, csm):
    incident = declare(by=commander, customer_tiers=[enterprise])
    # Detected 20 minutes ago; the pause is then moved to five minutes after detection.
    Incident.objects.filter(pk=incident.pk).update(detected_at=F("detected_at") - HOURS_2 / 6)
    SlaClock.objects.filter(incident=incident).update(started_at=F("started_at") - HOURS_2 / 6)
    incident.refresh_from_db()
    services.pause(incident, by=csm, reason="Waiting for Acme's logs")
    response = live(incident, "response")[0]
    assert response.state == ClockState.PAUSED and response.due_at is None
    assert response.next_alert_at is None
    with pytest.raises(Conflict):
        services.pause(incident, by=commander, reason="again")
    ClockPause.objects.filter(incident=incident).update(
        started_at=incident.detected_at + timedelta(minutes=5))
    services.resume(incident, by=csm)
    pause = ClockPause.objects.get(incident=incident)
    response = live(incident, "response")[0]
    assert response.state == ClockState.RUNNING and response.warned_amber_at is None
    assert response.due_at == incident.detected_at + timedelta(minutes=30) + (
        pause.ended_at - pause.started_at)
    assert response.due_at > pause.ended_at + timedelta(minutes=24)  # 25 of 30 minutes left
    entries = incident.timeline.filter(kind=EntryKind.SLA, data__action__in=["paused", "resumed"])
    paused_for = clocks.human((pause.ended_at - pause.started_at).total_seconds())
    assert [(e.data["action"], e.note, e.actor) for e in entries.order_by("seq")] == [
        ("paused", "Paused the clocks: Waiting for Acme's logs", csm),
        ("resumed", f"Resumed the clocks after {paused_for} (Waiting for Acme's logs)", csm)]
    with pytest.raises(Conflict):
        services.resume(incident, by=csm)


def test_pause_needs_a_reason_a_role_and_an_open_incident(commander, enterprise, auditor):
    incident = declare(by=commander, customer_tiers=[enterprise])
    with pytest.raises(ValidationError) as error:
        services.pause(incident, by=commander, reason="  ")
    assert "reason" in error.value.message_dict
    with pytest.raises(NotAllowed):
        services.pause(incident, by=auditor, reason="Waiting")
    incident_services.transition(incident, to="resolved", by=commander)
    with pytest.raises(Conflict):
        services.pause(incident, by=commander, reason="Waiting")
    assert not ClockPause.objects.exists()


def test_an_open_pause_ends_when_the_incident_is_resolved(commander, enterprise):
    incident = declare(by=commander, customer_tiers=[enterprise])
    services.pause(incident, by=commander, reason="Waiting for the customer")
    incident_services.transition(incident, to="resolved", by=commander)
    pause = ClockPause.objects.get()
    assert pause.ended_at == incident.resolved_at
    assert live(incident, "resolution")[0].state == ClockState.MET


BERLIN = ZoneInfo("Europe/Berlin")


def test_business_hours_friday_evening_p2_is_due_on_monday(enterprise):
    calendar = BusinessCalendar.objects.create(name="Berlin", time_zone="Europe/Berlin",
                                               start=time(9), end=time(17))
    Holiday.objects.create(calendar=calendar, date=date(2026, 12, 7), name="Made-up holiday")
    pure = Calendar.of(calendar)
    friday_evening = datetime(2026, 12, 4, 18, 30, tzinfo=BERLIN)
    derived = clocks.derive(target_minutes=480, amber_percent_left=50, red_percent_left=20,
                            calendar=pure, started_at=friday_evening, stopped_at=None,
                            pauses=[], now=friday_evening)
    # Monday the 7th is a holiday: Tuesday 09:00 + 8 h working time.
    assert derived.due_at == datetime(2026, 12, 8, 17, tzinfo=BERLIN)
    assert derived.amber_at == datetime(2026, 12, 8, 13, tzinfo=BERLIN)
    assert derived.state == ClockState.RUNNING
    assert derived.next_alert_at == derived.amber_at


def test_derive_reports_met_and_breached_with_used_time():
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    met = clocks.derive(target_minutes=60, amber_percent_left=50, red_percent_left=20,
                        calendar=None, started_at=start, stopped_at=start + timedelta(minutes=18),
                        pauses=[], now=start + timedelta(hours=3))
    assert (met.state, met.used_seconds, met.next_alert_at) == (ClockState.MET, 1080, None)
    late = clocks.derive(target_minutes=60, amber_percent_left=50, red_percent_left=20,
                         calendar=None, started_at=start, stopped_at=None, pauses=[],
                         now=start + timedelta(minutes=72))
    assert late.state == ClockState.BREACHED and late.next_alert_at == start + timedelta(minutes=30)


def test_human_durations():
    assert [clocks.human(s) for s in (20, 42 * 60, 3 * 3600 + 28 * 60, 4 * 3600, 2 * 86400 + 7200)
            ] == ["<1m", "42m", "3h 28m", "4h", "2d 2h"]
