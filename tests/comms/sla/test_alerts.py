"""Warnings and breaches: each threshold announced once, on the timeline with its lateness, and
as a notice over real SMTP to the people around the incident."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from comms.models import ClockState, SlaClock
from comms.sla import services, timers
from config import timers as engine
from incidents import services as incident_services
from incidents.models import EntryKind, Page, PagePurpose
from incidents.paging import delivery
from oncall.models import Team
from tests.comms.sla.conftest import affect, make_customer
from tests.conftest import declare, make_user
from tests.oncall.conftest import add_contact

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only (CI runs the suite on both)")


def _age(incident, minutes):
    """Move the incident's clocks back in time as if detected `minutes` ago."""
    shift = timedelta(minutes=minutes)
    for clock in SlaClock.objects.filter(incident=incident, replaced_at=None):
        SlaClock.objects.filter(pk=clock.pk).update(
            started_at=clock.started_at - shift, due_at=clock.due_at - shift,
            amber_at=clock.amber_at - shift, red_at=clock.red_at - shift,
            next_alert_at=clock.next_alert_at - shift)


def _response(incident):
    return SlaClock.objects.get(incident=incident, replaced_at=None, kind="response")


@pytest.mark.django_db
def test_amber_is_announced_once_with_lateness_and_notices_reach_everyone(
        commander, csm, enterprise, service, smtp_server):
    lead = make_user("lena", "Responders")
    Team.objects.filter(pk=service.team_id).update(lead=lead)
    for person in (commander, csm, lead):
        add_contact(person, "email", f"{person.username}@example.test")
    incident = declare(by=commander, commander=commander, services=[service],
                       customer_tiers=[enterprise])
    affect(incident, make_customer("Acme", enterprise, csm), by=csm)
    _age(incident, 16)  # 30 min response target: amber (50 %) was due a minute ago
    clock = _response(incident)
    assert clock.pk in services.due_alerts(timezone.now())
    assert services.announce(clock.pk) == ["amber"]
    assert services.announce(clock.pk) == []  # a retried run finds nothing to claim
    [entry] = incident.timeline.filter(kind=EntryKind.SLA_WARNING)
    assert entry.note == "Response clock for Acme: 50% of 30m left (amber)."
    assert 59_000 <= entry.data["late_ms"] <= 120_000
    clock.refresh_from_db()
    assert clock.warned_amber_at is not None and clock.next_alert_at == clock.red_at
    notices = Page.objects.filter(purpose=PagePurpose.NOTICE, reason=f"sla:{clock.pk}:amber")
    assert sorted(n.user.username for n in notices) == ["commander", "csm", "lena"]
    for notice in notices:
        delivery.deliver(notice.pk)
    assert sorted(m["To"] for m in smtp_server) == [
        "commander@example.test", "csm@example.test", "lena@example.test"]
    assert all("SLA amber: Response clock for Acme" in m["Subject"] for m in smtp_server)
    assert [d / 1 for d in timers.lateness(entry.created_at)] == [entry.data["late_ms"] / 1000]


@pytest.mark.django_db
def test_breach_marks_the_clock_and_it_keeps_running(commander, enterprise):
    incident = declare(by=commander, customer_tiers=[enterprise])
    _age(incident, 42)
    clock = _response(incident)
    assert services.announce(clock.pk) == ["amber", "red", "breach"]
    clock.refresh_from_db()
    assert clock.state == ClockState.BREACHED and clock.next_alert_at is None
    assert clock.stopped_at is None
    [breach] = incident.timeline.filter(kind=EntryKind.SLA_BREACH)
    assert breach.note == "Response clock for Enterprise breached its 30m target."
    incident_services.acknowledge(incident, by=commander)
    clock.refresh_from_db()
    assert clock.state == ClockState.BREACHED and clock.used_seconds >= 42 * 60


@pytest.mark.django_db
def test_the_timer_source_is_registered_and_runs_due_clocks(commander, enterprise):
    incident = declare(by=commander, customer_tiers=[enterprise])
    _age(incident, 16)
    assert timers.SLA_ALERTS in engine.sources()
    engine.tick_once(engine.Dispatcher())
    assert incident.timeline.filter(kind=EntryKind.SLA_WARNING).count() == 1
    engine.tick_once(engine.Dispatcher())
    assert incident.timeline.filter(kind=EntryKind.SLA_WARNING).count() == 1


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_racing_runs_announce_each_threshold_once(enterprise):
    commander = make_user("commander", "Responders")
    incident = declare(by=commander, customer_tiers=[enterprise])
    _age(incident, 42)
    clock_ids = list(SlaClock.objects.filter(incident=incident).values_list("pk", flat=True))
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            for clock_id in clock_ids:
                services.announce(clock_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = list(incident.timeline.filter(kind__in=[EntryKind.SLA_WARNING, EntryKind.SLA_BREACH])
                 .values_list("new_value", flat=True))
    assert sorted(kinds) == ["amber", "breach", "red"]  # response only; resolution is 8 h
