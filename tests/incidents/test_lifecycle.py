"""The lifecycle map (models.TRANSITIONS) walked pair by pair through services.transition."""

from collections import deque
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import services
from incidents.models import TRANSITIONS, EntryKind, Status
from incidents.services import InvalidTransition
from tests.conftest import declare

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """Injected time: services and record() read django.utils.timezone.now at call time."""
    now = [T0]
    monkeypatch.setattr(timezone, "now", lambda: now[0])

    def advance(minutes: int) -> datetime:
        now[0] += timedelta(minutes=minutes)
        return now[0]

    return advance


def _path_from_triggered(target: str) -> list[str]:
    """Shortest list of statuses leading from triggered to target along allowed transitions."""
    paths = {Status.TRIGGERED: []}
    queue = deque([Status.TRIGGERED])
    while queue:
        state = queue.popleft()
        for nxt in sorted(TRANSITIONS[state]):
            if nxt not in paths:
                paths[nxt] = [*paths[state], nxt]
                queue.append(nxt)
    return paths[target]


def incident_in(state: str, by):
    incident = declare(by=by)
    if state == Status.MERGED:
        services.merge(incident, into=declare(by=by), by=by)
    for step in _path_from_triggered(state) if state != Status.MERGED else []:
        services.transition(incident, to=step, by=by)
    incident.refresh_from_db()
    assert incident.status == state
    return incident


ALL_PAIRS = [(a, b) for a in Status.values for b in Status.values]
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
DISALLOWED = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


def test_lifecycle_map_covers_every_status_and_only_statuses():
    assert set(TRANSITIONS) == set(Status.values)
    assert all(targets <= set(Status.values) for targets in TRANSITIONS.values())
    assert not any(Status.MERGED in targets for targets in TRANSITIONS.values())
    assert len(ALLOWED) + len(DISALLOWED) == len(Status.values) ** 2


def test_every_status_but_merged_is_reachable_from_triggered():
    for state in set(Status.values) - {Status.TRIGGERED, Status.MERGED}:
        assert _path_from_triggered(state)[-1] == state
    with pytest.raises(KeyError):
        _path_from_triggered(Status.MERGED)


@pytest.mark.parametrize(("start", "to"), ALLOWED)
def test_allowed_transition_moves_status_and_writes_one_entry(start, to, commander):
    incident = incident_in(start, commander)
    seq_before = incident.timeline_seq

    services.transition(incident, to=to, by=commander, note="moving on")

    incident.refresh_from_db()
    assert incident.status == to
    assert incident.timeline_seq == seq_before + 1
    entry = incident.timeline.get(seq=seq_before + 1)
    assert (entry.kind, entry.old_value, entry.new_value) == (EntryKind.STATUS, start, to)
    assert entry.actor == commander
    assert entry.note == "moving on"


@pytest.mark.parametrize(("start", "to"), DISALLOWED)
def test_disallowed_transition_raises_and_changes_nothing(start, to, commander):
    incident = incident_in(start, commander)
    entries_before = list(incident.timeline.values_list("seq", "hash"))

    with pytest.raises(InvalidTransition) as raised:
        services.transition(incident, to=to, by=commander)

    assert raised.value.field == "status"
    incident.refresh_from_db()
    assert incident.status == start
    assert incident.timeline_seq == len(entries_before)
    assert list(incident.timeline.values_list("seq", "hash")) == entries_before


def test_merged_is_reached_only_through_merge(commander):
    incident, survivor = declare(by=commander), declare(by=commander)
    with pytest.raises(InvalidTransition, match="merge"):
        services.transition(incident, to=Status.MERGED, by=commander)
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED

    services.merge(incident, into=survivor, by=commander)
    incident.refresh_from_db()
    assert (incident.status, incident.merged_into) == (Status.MERGED, survivor)
    assert incident.closed_at is not None


def test_unknown_status_is_a_validation_error(incident, commander):
    with pytest.raises(ValidationError) as raised:
        services.transition(incident, to="exploded", by=commander)
    assert "status" in raised.value.message_dict
    incident.refresh_from_db()
    assert (incident.status, incident.timeline.count()) == (Status.TRIGGERED, 1)


def test_acknowledge_sets_acknowledged_at_only(clock, commander):
    incident = declare(by=commander)
    at = clock(3)
    services.acknowledge(incident, by=commander)
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert incident.acknowledged_at == at
    assert (incident.mitigated_at, incident.resolved_at, incident.closed_at) == (None, None, None)
    status = incident.timeline.get(kind=EntryKind.STATUS)
    assert status.data == {"acknowledged_at": at.isoformat()}


def test_acknowledge_only_from_triggered(commander):
    incident = incident_in(Status.INVESTIGATING, commander)
    with pytest.raises(InvalidTransition, match="already investigating"):
        services.acknowledge(incident, by=commander)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.timeline.count() == 2


def test_later_transitions_keep_first_acknowledgement(clock, commander):
    incident = declare(by=commander)
    acked = clock(2)
    services.transition(incident, to=Status.ACKNOWLEDGED, by=commander)
    clock(10)
    services.transition(incident, to=Status.INVESTIGATING, by=commander)
    incident.refresh_from_db()
    assert incident.acknowledged_at == acked
    assert incident.timeline.last().data == {}


def test_investigating_from_triggered_counts_as_acknowledged(clock, commander):
    incident = declare(by=commander)
    at = clock(4)
    services.transition(incident, to=Status.INVESTIGATING, by=commander)
    incident.refresh_from_db()
    assert incident.acknowledged_at == at
    assert incident.mitigated_at is None


def test_monitoring_sets_mitigated_at(clock, commander):
    incident = incident_in(Status.IDENTIFIED, commander)
    at = clock(30)
    services.transition(incident, to=Status.MONITORING, by=commander)
    incident.refresh_from_db()
    assert incident.mitigated_at == at
    assert incident.resolved_at is None
    assert incident.closed_at is None


def test_resolve_sets_resolved_and_closed_at(clock, commander):
    incident = incident_in(Status.MONITORING, commander)
    mitigated = incident.mitigated_at
    at = clock(45)
    services.transition(incident, to=Status.RESOLVED, by=commander)
    incident.refresh_from_db()
    assert (incident.resolved_at, incident.closed_at) == (at, at)
    assert incident.mitigated_at == mitigated
    assert not incident.is_open


def test_resolve_straight_from_triggered_sets_every_milestone(clock, commander):
    incident = declare(by=commander)
    at = clock(5)
    services.transition(incident, to=Status.RESOLVED, by=commander)
    incident.refresh_from_db()
    assert [incident.acknowledged_at, incident.mitigated_at, incident.resolved_at,
            incident.closed_at] == [at] * 4


def test_reopen_clears_resolved_and_closed_at(clock, commander):
    incident = incident_in(Status.RESOLVED, commander)
    acknowledged, mitigated = incident.acknowledged_at, incident.mitigated_at
    clock(60)
    services.transition(incident, to=Status.INVESTIGATING, by=commander, note="errors are back")
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert (incident.resolved_at, incident.closed_at) == (None, None)
    assert (incident.acknowledged_at, incident.mitigated_at) == (acknowledged, mitigated)
    assert incident.is_open
    entry = incident.timeline.last()
    assert entry.data == {"reopened": True}
    assert entry.note == "errors are back"


def test_decline_closes_without_resolution(clock, commander):
    incident = declare(by=commander)
    at = clock(1)
    services.transition(incident, to=Status.DECLINED, by=commander, note="false alarm")
    incident.refresh_from_db()
    assert incident.status == Status.DECLINED
    assert incident.closed_at == at
    assert (incident.acknowledged_at, incident.resolved_at) == (None, None)
    assert incident.allowed_next() == []
    assert incident.timeline.last().note == "false alarm"
