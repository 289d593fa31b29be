"""The maintenance engine: each step at its exact time, once, with its public update, the
subscribers' notices and the components; late ticks catch up in order; two racing workers take
each step once. Alert intake's windows follow the maintenance's times."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from comms.models import (
    ComponentChange,
    ComponentStatus,
    Maintenance,
    MaintenanceState,
    MaintenanceUpdate,
)
from comms.status import maintenance as engine
from comms.status import notices, services
from config.errors import Conflict
from incidents.models import MaintenanceWindow

SCHEDULED, IN_PROGRESS, VERIFYING, COMPLETED = (MaintenanceState.SCHEDULED,
                                                 MaintenanceState.IN_PROGRESS,
                                                 MaintenanceState.VERIFYING,
                                                 MaintenanceState.COMPLETED)


@pytest.fixture
def heard(monkeypatch):
    """The notices the engine asks for (the real ones are the subscribers' work)."""
    calls = []
    monkeypatch.setattr(notices, "for_maintenance",
                        lambda m, kind, update=None: calls.append((m.pk, str(kind))))
    return calls


@pytest.fixture
def start():
    """Tomorrow at 02:00 UTC: a start in the future, on the hour."""
    tomorrow = timezone.now() + timedelta(days=1)
    return tomorrow.replace(hour=2, minute=0, second=0, microsecond=0)


@pytest.fixture
def planned(csm, component, start, heard):
    return services.schedule(by=csm, name="Database upgrade", body="Checkout may be slow.",
                             components=[component], starts_at=start,
                             ends_at=start + timedelta(hours=2), verify_minutes=15,
                             remind_minutes=60, windows=True)


def _states(maintenance):
    return list(MaintenanceUpdate.objects.filter(maintenance=maintenance)
                .order_by("at", "id").values_list("state", "at"))


@pytest.mark.django_db
def test_scheduling_notifies_and_sets_the_reminder_as_next_action(planned, start, heard):
    assert planned.state == SCHEDULED
    assert planned.next_action_at == start - timedelta(minutes=60)
    assert heard == [(planned.pk, "scheduled")]
    update = MaintenanceUpdate.objects.get(maintenance=planned)
    assert (update.state, update.body) == (SCHEDULED, "Checkout may be slow.")


@pytest.mark.django_db
def test_each_step_happens_at_its_exact_time(planned, component, start, heard):
    reminder = start - timedelta(minutes=60)
    assert engine.due(reminder - timedelta(seconds=1)) == []
    assert engine.due(reminder) == [planned.pk]
    assert engine.advance(planned.pk, reminder) == ["reminder"]
    planned.refresh_from_db()
    assert (planned.reminded_at, planned.next_action_at) == (reminder, start)
    assert engine.advance(planned.pk, start - timedelta(seconds=1)) == []

    assert engine.advance(planned.pk, start) == [IN_PROGRESS]
    component.refresh_from_db()
    assert component.status == ComponentStatus.MAINTENANCE
    change = ComponentChange.objects.get(component=component)
    assert change.maintenance_id == planned.pk

    end = start + timedelta(hours=2)
    assert engine.advance(planned.pk, end) == [VERIFYING]
    component.refresh_from_db()
    assert component.status == ComponentStatus.MAINTENANCE  # verifying still shows it
    assert engine.advance(planned.pk, end + timedelta(minutes=15)) == [COMPLETED]
    planned.refresh_from_db()
    component.refresh_from_db()
    assert (planned.state, planned.next_action_at) == (COMPLETED, None)
    assert component.status == ComponentStatus.OPERATIONAL
    assert engine.due(end + timedelta(days=1)) == []
    assert heard == [(planned.pk, "scheduled"), (planned.pk, "reminder"),
                     (planned.pk, IN_PROGRESS), (planned.pk, VERIFYING),
                     (planned.pk, COMPLETED)]
    assert [s for s, _ in _states(planned)] == [SCHEDULED, IN_PROGRESS, VERIFYING, COMPLETED]
    body = MaintenanceUpdate.objects.get(maintenance=planned, state=IN_PROGRESS).body
    assert body.startswith("The scheduled maintenance is in progress")


@pytest.mark.django_db
def test_a_late_tick_catches_up_in_order_with_the_due_times(planned, start, heard):
    end = start + timedelta(hours=2)
    taken = engine.advance(planned.pk, end + timedelta(minutes=5))
    # The reminder came after the start: skipped, never sent late.
    assert taken == ["reminder", IN_PROGRESS, VERIFYING]
    assert heard == [(planned.pk, "scheduled"), (planned.pk, IN_PROGRESS),
                     (planned.pk, VERIFYING)]
    assert _states(planned)[1:] == [(IN_PROGRESS, start), (VERIFYING, end)]
    planned.refresh_from_db()
    assert planned.next_action_at == end + timedelta(minutes=15)


@pytest.mark.django_db
def test_no_reminder_when_remind_minutes_is_zero(csm, component, start, heard):
    row = services.schedule(by=csm, name="Quick fix", body="A short restart.",
                            components=[component], starts_at=start,
                            ends_at=start + timedelta(minutes=10), remind_minutes=0)
    assert row.next_action_at == start
    assert engine.advance(row.pk, start) == [IN_PROGRESS]


@pytest.mark.django_db
def test_windows_are_created_moved_and_removed(planned, service, csm, start):
    window = MaintenanceWindow.objects.get()
    assert list(planned.windows.all()) == [window]
    assert (window.service, window.starts_at, window.ends_at) == (
        service, start, start + timedelta(hours=2))
    assert window.reason == "Status page maintenance: Database upgrade"

    later = start + timedelta(hours=3)
    services.edit(by=csm, maintenance=planned, starts_at=later, ends_at=later + timedelta(hours=1))
    window.refresh_from_db()
    planned.refresh_from_db()
    assert (window.starts_at, window.ends_at) == (later, later + timedelta(hours=1))
    assert planned.next_action_at == later - timedelta(minutes=60)

    services.edit(by=csm, maintenance=planned, windows=False)
    assert not MaintenanceWindow.objects.exists()
    services.edit(by=csm, maintenance=planned, windows=True)
    assert MaintenanceWindow.objects.count() == 1

    services.delete(by=csm, maintenance=planned)
    assert not Maintenance.objects.exists()
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.django_db
def test_completing_early_ends_the_windows_and_the_maintenance(planned, component, csm, start,
                                                               heard):
    engine.advance(planned.pk, start)
    with pytest.raises(Conflict):
        services.delete(by=csm, maintenance=planned)
    before = timezone.now()
    services.complete(by=csm, maintenance=planned, body="Done ahead of time.")
    planned.refresh_from_db()
    component.refresh_from_db()
    assert (planned.state, planned.next_action_at) == (COMPLETED, None)
    assert component.status == ComponentStatus.OPERATIONAL
    assert MaintenanceUpdate.objects.get(maintenance=planned, state=COMPLETED).body == (
        "Done ahead of time.")
    assert heard[-1] == (planned.pk, COMPLETED)
    # Its window had not begun yet (it starts tomorrow): removed, nobody's paging is touched.
    assert not MaintenanceWindow.objects.exists()
    assert before <= planned.updated_at
    assert engine.advance(planned.pk, start + timedelta(days=1)) == []
    with pytest.raises(Conflict):
        services.complete(by=csm, maintenance=planned)


@pytest.mark.django_db
def test_completing_early_ends_a_running_window_now(csm, component, heard):
    now = timezone.now()
    row = services.schedule(by=csm, name="Cache flush", body="Brief slowness.",
                            components=[component], starts_at=now - timedelta(minutes=5),
                            ends_at=now + timedelta(hours=1), windows=True)
    assert engine.advance(row.pk, timezone.now()) == ["reminder", IN_PROGRESS]
    services.complete(by=csm, maintenance=row)
    window = MaintenanceWindow.objects.get()
    assert now <= window.ends_at <= timezone.now()
    assert window.starts_at == now - timedelta(minutes=5)


@pytest.mark.django_db
def test_a_running_maintenance_keeps_its_start_but_its_end_moves(planned, csm, start):
    engine.advance(planned.pk, start)
    with pytest.raises(ValidationError) as caught:
        services.edit(by=csm, maintenance=planned, starts_at=start + timedelta(hours=1))
    assert "starts_at" in caught.value.message_dict
    services.edit(by=csm, maintenance=planned, ends_at=start + timedelta(hours=5))
    planned.refresh_from_db()
    assert planned.next_action_at == start + timedelta(hours=5)
    assert MaintenanceWindow.objects.get().ends_at == start + timedelta(hours=5)


@pytest.mark.django_db(transaction=True)
def test_two_racing_workers_take_each_step_once(csm, component, start, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks race only on PostgreSQL; SQLite serialises every write")
    heard = []
    monkeypatch.setattr(notices, "for_maintenance",
                        lambda m, kind, update=None: heard.append(str(kind)))
    row = services.schedule(by=csm, name="Database upgrade", body="Slow checkout.",
                            components=[component], starts_at=start,
                            ends_at=start + timedelta(hours=1), remind_minutes=0)
    results, barrier = [], threading.Barrier(2)

    def run():
        barrier.wait()
        try:
            results.append(engine.advance(row.pk, start + timedelta(minutes=30)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [IN_PROGRESS]]
    assert heard == ["scheduled", IN_PROGRESS]
    assert MaintenanceUpdate.objects.filter(maintenance=row, state=IN_PROGRESS).count() == 1
    assert ComponentChange.objects.filter(component=component).count() == 1
