"""Escalation runs: snapshot, steps, skips, repeats, acknowledgement and resolution, pages once.
Time is injected (`now=`), never slept."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from config import timers
from incidents import services
from incidents.models import (
    EntryKind,
    EscalationRun,
    Page,
    PagePurpose,
    PageStatus,
    RunState,
    Status,
)
from incidents.paging import delivery, escalation
from incidents.timeline import verify_chain
from oncall.models import NotificationRule
from tests.conftest import declare, make_team, make_user
from tests.oncall.conftest import add_contact, add_layer, make_policy, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    ann, bob, cat = (make_user(n, "Responders") for n in ("ann", "bob", "cat"))
    for user in (ann, bob, cat):
        add_contact(user)
    return ann, bob, cat


def _declare(policy, **kwargs):
    return declare(title="Checkout 502s", escalation_policy=policy, **kwargs)


def _pages(incident, **filters):
    return list(Page.objects.filter(incident=incident, **filters).order_by("id"))


def _advance_at(incident, at):
    """Advance the run as if it were `at` (a fixed instant, so schedules are predictable)."""
    EscalationRun.objects.filter(incident=incident).update(next_action_at=at)
    return escalation.advance(incident.escalation_run.pk, now=at)


def _notes(incident, kind=EntryKind.ESCALATION):
    return [e.note for e in incident.timeline.filter(kind=kind).order_by("seq")]


def test_declare_starts_a_run_with_a_snapshot_of_the_policy(people):
    ann, bob, _ = people
    policy = make_policy({"users": [ann], "delay": 3}, {"users": [bob]}, repeat=1)
    incident = _declare(policy)
    run = EscalationRun.objects.get(incident=incident)
    assert run.state == RunState.ACTIVE and run.next_action_at is not None
    assert run.policy["steps"][0] == {"delay_minutes": 3, "users": [ann.pk], "schedules": [],
                                      "teams": []}
    policy.steps.all().delete()  # later edits do not change a run under way
    escalation.advance(run.pk, now=timezone.now())
    assert [p.user for p in _pages(incident)] == [ann]
    assert _notes(incident)[-1] == "Step 1 paging ann."


def test_declare_without_paging_starts_no_run(people):
    policy = make_policy({"users": [people[0]]})
    incident = _declare(policy, page=False)
    assert not EscalationRun.objects.filter(incident=incident).exists()


def test_next_step_only_after_its_delay(people):
    ann, bob, _ = people
    policy = make_policy({"users": [ann], "delay": 5}, {"users": [bob]})
    incident = _declare(policy)
    run = incident.escalation_run
    t0 = run.next_action_at
    escalation.advance(run.pk, now=t0)
    assert escalation.advance(run.pk, now=t0 + timedelta(minutes=4, seconds=59)) == []
    escalation.advance(run.pk, now=t0 + timedelta(minutes=5))
    assert [(p.user.username, p.step) for p in _pages(incident)] == [("ann", 0), ("bob", 1)]


def test_step_reaching_nobody_is_skipped_at_once_and_says_so(people):
    ann, bob, _ = people
    empty = make_schedule(name="Empty")
    add_layer(empty, ann, restrict_start=time(3), restrict_end=time(3, 1))  # almost never on
    policy = make_policy({"schedules": [empty]}, {"users": [bob]})
    incident = _declare(policy)
    _advance_at(incident, datetime(2026, 6, 1, 12, tzinfo=UTC))
    assert [p.user for p in _pages(incident)] == [bob]
    assert _notes(incident)[1:] == ["Step 1 skipped: it reaches nobody right now.",
                                    "Step 2 paging bob."]


def test_schedule_and_team_targets_page_whoever_is_on_call(people):
    ann, bob, cat = people
    team = make_team("Checkout", ann, bob)
    schedule = make_schedule(name="Team rota", team=team)
    add_layer(schedule, bob, ann, unit="days", start=datetime(2026, 6, 1).date(),
              handoff=time(0))
    policy = make_policy({"teams": [team], "users": [cat]})
    incident = _declare(policy)
    _advance_at(incident, datetime(2026, 6, 2, 12, tzinfo=UTC))  # day 2: ann's turn
    assert {p.user.username for p in _pages(incident)} == {"cat", "ann"}


def test_policy_repeats_then_is_exhausted(people):
    ann = people[0]
    policy = make_policy({"users": [ann], "delay": 1}, repeat=1)
    incident = _declare(policy)
    run = incident.escalation_run
    t = run.next_action_at
    for minute in range(3):
        escalation.advance(run.pk, now=t + timedelta(minutes=minute))
    run.refresh_from_db()
    assert [(p.step, p.round) for p in _pages(incident)] == [(0, 0), (0, 1)]
    assert run.state == RunState.EXHAUSTED and run.next_action_at is None
    assert _notes(incident)[-1] == "Every step has been paged and nobody acknowledged."


def test_person_without_contact_method_is_named(people):
    ann = people[0]
    nobody = make_user("dan", "Responders")
    policy = make_policy({"users": [ann, nobody]})
    incident = _declare(policy)
    escalation.advance(incident.escalation_run.pk)
    assert _notes(incident)[-1] == "Step 1 paging ann, dan. No contact method for dan."


def test_acknowledge_stops_paging_and_tells_everyone_paged(people, smtp_server, http_receiver):
    ann, bob, cat = people
    add_contact(ann, "webhook", http_receiver.url)
    late = add_contact(bob, "slack", http_receiver.url + "/slack")
    NotificationRule.objects.create(contact_method=late, delay_minutes=10)
    # With rules, only the methods they name are used: bob's email must have one too.
    NotificationRule.objects.create(contact_method=bob.contact_methods.get(kind="email"))
    policy = make_policy({"users": [ann, bob], "delay": 5}, {"users": [cat]})
    incident = _declare(policy)
    run = incident.escalation_run
    escalation.tick()
    assert len(smtp_server) == 2 and len(http_receiver.requests) == 1
    services.acknowledge(incident, by=bob)
    run.refresh_from_db()
    assert run.state == RunState.ACKNOWLEDGED and run.next_action_at is None
    assert [p.status for p in _pages(incident, purpose=PagePurpose.PAGE)] == [
        PageStatus.DELIVERED, PageStatus.DELIVERED, PageStatus.DELIVERED, PageStatus.CANCELLED]
    notices = _pages(incident, purpose=PagePurpose.ACKNOWLEDGED)
    assert sorted((p.user.username, p.channel) for p in notices) == [
        ("ann", "email"), ("ann", "webhook"), ("bob", "email")]
    assert _notes(incident)[-1] == "Paging stopped: acknowledged by bob. 1 pending page(s) " \
                                   "cancelled."
    assert _notes(incident, EntryKind.NOTIFICATION) == [
        "Telling everyone paged that it was acknowledged by bob: ann, bob."]
    assert escalation.advance(run.pk, now=timezone.now() + timedelta(hours=1)) == []
    escalation.tick()  # each method carried a page less than a minute ago: held back
    assert len(smtp_server) == 2 and len(http_receiver.requests) == 1
    escalation.tick(now=timezone.now() + timedelta(seconds=61))
    assert len(smtp_server) == 4 and "acknowledged" in smtp_server[-1]["Subject"]
    assert http_receiver.requests[-1][1]["purpose"] == "acknowledged"


def test_resolve_stops_everything_and_notifies(people, smtp_server):
    ann = people[0]
    policy = make_policy({"users": [ann]}, ack_timeout=10)
    incident = _declare(policy)
    escalation.tick()
    services.acknowledge(incident, by=ann)
    services.transition(incident, to=Status.RESOLVED, by=ann)
    run = EscalationRun.objects.get(incident=incident)
    assert run.state == RunState.STOPPED and run.next_action_at is None
    assert len(_pages(incident, purpose=PagePurpose.RESOLVED)) == 1


def test_acknowledgement_timeout_pages_again_from_the_top(people):
    ann, bob, _ = people
    policy = make_policy({"users": [ann]}, {"users": [bob]}, ack_timeout=30)
    incident = _declare(policy)
    run = incident.escalation_run
    escalation.advance(run.pk)
    services.acknowledge(incident, by=ann)
    run.refresh_from_db()
    due = run.next_action_at
    assert due is not None
    assert escalation.advance(run.pk, now=due - timedelta(seconds=1)) == []
    escalation.advance(run.pk, now=due)
    run.refresh_from_db()
    assert run.state == RunState.ACTIVE and run.round == 1
    assert [(p.user.username, p.round, p.status) for p in _pages(
        incident, purpose=PagePurpose.PAGE)][-1] == ("ann", 1, PageStatus.PENDING)
    assert "Acknowledged but not resolved in time" in _notes(incident)[-2]


def _time_out_acknowledgement(incident, by):
    """Acknowledge, then advance the run at its acknowledgement timeout."""
    run = incident.escalation_run
    escalation.advance(run.pk)
    services.acknowledge(incident, by=by)
    run.refresh_from_db()
    escalation.advance(run.pk, now=run.next_action_at)
    incident.refresh_from_db()
    return run


def test_acknowledgement_timeout_puts_the_incident_back_to_triggered(people):
    ann = people[0]
    incident = _declare(make_policy({"users": [ann]}, ack_timeout=30))
    _time_out_acknowledgement(incident, ann)
    assert incident.status == Status.TRIGGERED
    entry = incident.timeline.filter(kind=EntryKind.STATUS).latest("seq")
    assert (entry.old_value, entry.new_value) == (Status.ACKNOWLEDGED, Status.TRIGGERED)
    assert entry.actor is None and entry.actor_label == delivery.ROBOT
    assert entry.note == "The acknowledgement timed out."
    assert incident.acknowledged_at is not None  # the first response still counts for MTTA
    assert verify_chain(incident.pk).intact


def test_acknowledging_again_after_the_timeout_stops_the_paging(people):
    ann, bob, _ = people
    incident = _declare(make_policy({"users": [ann], "delay": 5}, {"users": [bob]},
                                    ack_timeout=30))
    run = _time_out_acknowledgement(incident, ann)
    first_ack = incident.acknowledged_at
    services.acknowledge(incident, by=ann)
    incident.refresh_from_db()
    run.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED and incident.acknowledged_at == first_ack
    assert run.state == RunState.ACKNOWLEDGED
    assert not _pages(incident, purpose=PagePurpose.PAGE, status=PageStatus.PENDING)
    paged = len(_pages(incident, purpose=PagePurpose.PAGE))
    assert escalation.advance(run.pk, now=run.next_action_at - timedelta(seconds=1)) == []
    assert len(_pages(incident, purpose=PagePurpose.PAGE)) == paged  # bob's step never came
    assert _notes(incident)[-1] == "Paging stopped: acknowledged by ann. 1 pending page(s) " \
                                   "cancelled."


def test_acknowledgement_timeout_pages_an_investigated_incident_but_keeps_its_status(people):
    ann = people[0]
    incident = _declare(make_policy({"users": [ann]}, ack_timeout=30))
    run = incident.escalation_run
    escalation.advance(run.pk)
    services.transition(incident, to=Status.INVESTIGATING, by=ann)
    run.refresh_from_db()
    escalation.advance(run.pk, now=run.next_action_at)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert _pages(incident, purpose=PagePurpose.PAGE)[-1].round == 1
    assert not incident.timeline.filter(kind=EntryKind.STATUS, new_value=Status.TRIGGERED)


def test_nobody_can_move_an_acknowledged_incident_back_to_triggered(people):
    ann = people[0]
    incident = _declare(make_policy({"users": [ann]}, ack_timeout=30))
    services.acknowledge(incident, by=ann)
    with pytest.raises(services.InvalidTransition):
        services.transition(incident, to=Status.TRIGGERED, by=ann)


def test_escalate_by_hand_pages_the_next_step_now(people):
    ann, bob, _ = people
    policy = make_policy({"users": [ann], "delay": 30}, {"users": [bob]})
    incident = _declare(policy)
    escalation.advance(incident.escalation_run.pk)
    escalation.escalate_now(incident, by=ann)
    assert [p.user.username for p in _pages(incident)] == ["ann", "bob"]
    assert "Escalated by hand" in _notes(incident)[-2]


def test_advance_twice_for_the_same_due_time_pages_once(people):
    policy = make_policy({"users": list(people)})
    incident = _declare(policy)
    run = incident.escalation_run
    now = run.next_action_at
    first = escalation.advance(run.pk, now=now)
    second = escalation.advance(run.pk, now=now)
    assert len(first) == 3 and second == []
    assert Page.objects.filter(incident=incident).count() == 3


def test_tick_finds_due_runs_and_pages(people, smtp_server):
    policy = make_policy({"users": [people[0]]})
    incident = _declare(policy)
    assert escalation.tick() == (1, 1)
    assert escalation.tick() == (0, 0)
    assert len(smtp_server) == 1
    assert Page.objects.get(incident=incident).status == PageStatus.DELIVERED


def test_ticker_advances_due_runs_and_hands_on_orphaned_pages(people, smtp_server):
    policy = make_policy({"users": [people[0]]})
    incident = _declare(policy)  # its on_commit tasks never run here: only the ticker helps
    timers.tick_for(0.3)
    page = Page.objects.get(incident=incident)
    assert page.status == PageStatus.PENDING and smtp_server == []  # young: has its own task
    Page.objects.filter(pk=page.pk).update(due_at=timezone.now() - timedelta(seconds=10))
    timers.tick_for(0.3)
    page.refresh_from_db()
    assert page.status == PageStatus.DELIVERED and len(smtp_server) == 1


def test_acknowledge_through_the_api_stops_the_run(people):
    ann = people[0]
    incident = _declare(make_policy({"users": [ann]}))
    escalation.advance(incident.escalation_run.pk)
    _, raw = ApiToken.issue(ann, "phone")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 200
    run = EscalationRun.objects.get(incident=incident)
    assert run.state == RunState.ACKNOWLEDGED
    assert _notes(incident)[-1].startswith("Paging stopped: acknowledged by ann.")
