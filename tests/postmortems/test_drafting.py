"""Resolving an incident drafts its post-mortem: once, through the timer engine, keeping what
people wrote when the facts are redrafted."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config import timers
from config.errors import Conflict, NotAllowed
from incidents import services
from incidents.models import EntryKind, Page, PagePurpose, Severity
from postmortems import drafting
from postmortems.models import Level, Postmortem, State
from tests.concurrency import race
from tests.conftest import declare
from tests.oncall.conftest import add_contact


def _resolve(incident, by):
    services.transition(incident, to="resolved", by=by)
    incident.refresh_from_db()
    return Postmortem.objects.get(incident=incident)


@pytest.mark.parametrize(("severity", "level", "due"), [
    (Severity.P1, Level.FULL, True), (Severity.P2, Level.FULL, True),
    (Severity.P3, Level.SUMMARY, True), (Severity.P4, Level.NONE, False)])
def test_resolving_creates_the_post_mortem_at_the_severitys_level(commander, severity, level,
                                                                    due):
    incident = declare(by=commander, severity=severity)
    assert not Postmortem.objects.filter(incident=incident).exists()
    postmortem = _resolve(incident, commander)
    assert postmortem.level == level and postmortem.state == State.DRAFT
    assert (postmortem.draft_due_at is not None) is due
    assert postmortem.facts == {}  # drafting is the timer's work, after the commit


def test_the_timer_drafts_once_says_so_and_tells_the_commander(commander):
    add_contact(commander)
    incident = declare(by=commander, commander=commander, title="Checkout 502")
    postmortem = _resolve(incident, commander)
    now = timezone.now()
    assert drafting.due_drafts(now) == [postmortem.pk]
    assert drafting.draft_due(postmortem.pk, now) is not None
    assert drafting.draft_due(postmortem.pk, now) is None  # claimed already
    assert drafting.due_drafts(now) == []
    postmortem.refresh_from_db()
    assert postmortem.facts["incident"]["title"] == "Checkout 502"
    assert postmortem.facts_seq == postmortem.facts["record"]["through_seq"]
    assert postmortem.summary.startswith(f"{incident.reference} (P2)")
    entries = incident.timeline.filter(kind=EntryKind.POSTMORTEM)
    assert [(e.new_value, e.actor_label) for e in entries] == [("drafted", drafting.ROBOT)]
    notices = Page.objects.filter(purpose=PagePurpose.NOTICE, user=commander,
                                  reason=f"postmortem-draft:{postmortem.pk}")
    assert notices.count() == 1 and "post-mortem draft ready" in notices.get().subject


def test_a_worker_killed_before_drafting_loses_nothing(commander):
    """The due mark is committed with the resolution: whichever ticker runs next drafts it."""
    incident = declare(by=commander)
    postmortem = _resolve(incident, commander)
    # No worker ran: the mark waits in the row. The next tick (any worker) drafts it.
    timers.tick_once(timers.Dispatcher())
    postmortem.refresh_from_db()
    assert postmortem.facts and postmortem.draft_due_at is None


def test_redraft_keeps_the_sections_people_wrote_and_follows_a_milestone_correction(
        commander, responder):
    incident = declare(by=commander, commander=commander)
    postmortem = _resolve(incident, commander)
    drafting.draft_due(postmortem.pk, timezone.now())
    postmortem.refresh_from_db()
    relay_summary = postmortem.summary
    Postmortem.objects.filter(pk=postmortem.pk).update(
        went_well="The rollback took **two minutes**.", learnings="Canary first.")
    incident.refresh_from_db()
    started = incident.started_at - timedelta(minutes=30)
    services.correct_milestones(incident, by=commander, started_at=started,
                                note="The first errors were half an hour earlier.")
    drafting.redraft(postmortem, by=responder)
    postmortem.refresh_from_db()
    assert postmortem.went_well == "The rollback took **two minutes**."
    assert postmortem.learnings == "Canary first."
    resolve = next(d for d in postmortem.facts["durations"] if d["name"] == "to_resolve")
    assert resolve["seconds"] >= 30 * 60
    assert postmortem.summary != relay_summary  # nobody edited it: Relay's summary follows
    # Once a person edits the summary, a redraft keeps it too.
    Postmortem.objects.filter(pk=postmortem.pk).update(summary="Ours.", summary_edited=True)
    postmortem.refresh_from_db()
    drafting.redraft(postmortem, by=responder)
    postmortem.refresh_from_db()
    assert postmortem.summary == "Ours."
    notes = list(incident.timeline.filter(kind=EntryKind.POSTMORTEM).values_list("new_value",
                                                                                  "note"))
    assert [n[0] for n in notes] == ["drafted", "redrafted", "redrafted"]
    assert "sections people wrote are kept" in notes[1][1]


def test_a_published_post_mortem_is_never_redrafted(commander):
    incident = declare(by=commander)
    postmortem = _resolve(incident, commander)
    drafting.draft_due(postmortem.pk, timezone.now())
    Postmortem.objects.filter(pk=postmortem.pk).update(state=State.PUBLISHED)
    postmortem.refresh_from_db()
    with pytest.raises(Conflict):
        drafting.redraft(postmortem, by=commander)
    # Reopened and resolved again: the published one stays as it is (a correction is explicit).
    services.transition(incident, to="investigating", by=commander)
    services.transition(incident, to="resolved", by=commander)
    postmortem.refresh_from_db()
    assert postmortem.draft_due_at is None


def test_reopened_and_resolved_again_redrafts_the_draft(commander):
    incident = declare(by=commander)
    postmortem = _resolve(incident, commander)
    drafting.draft_due(postmortem.pk, timezone.now())
    services.transition(incident, to="investigating", by=commander)
    services.add_note(incident, text="It came back.", by=commander)
    services.transition(incident, to="resolved", by=commander)
    postmortem.refresh_from_db()
    assert postmortem.draft_due_at is not None
    drafting.draft_due(postmortem.pk, timezone.now())
    postmortem.refresh_from_db()
    assert any(e["text"] == "It came back." for e in postmortem.facts["tried"])


def test_start_needs_a_writer_and_drafts_at_once(commander, csm, auditor):
    incident = declare(by=commander, severity=Severity.P4)
    for reader in (csm, auditor):
        with pytest.raises(NotAllowed):
            drafting.start(incident, by=reader)
    postmortem = drafting.start(incident, by=commander)
    # P4's default is none; starting one by hand asks for at least a summary.
    assert postmortem.level == Level.SUMMARY and postmortem.facts
    assert drafting.start(incident, by=commander).pk == postmortem.pk


@pytest.mark.django_db(transaction=True)
def test_two_racing_tickers_draft_once(commander):
    if connection.vendor != "postgresql":
        pytest.skip("row locks race only on PostgreSQL; SQLite serialises every write")
    incident = declare(by=commander)
    postmortem = _resolve(incident, commander)
    now = timezone.now()
    results = race(lambda: drafting.draft_due(postmortem.pk, now))
    assert sorted(r is None for r in results) == [False, True]
    assert incident.timeline.filter(kind=EntryKind.POSTMORTEM).count() == 1
