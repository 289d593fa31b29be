"""The life of a post-mortem through postmortems.services: edits under optimistic locking, the
level, review by named reviewers, publication as a frozen revision, corrections and their diff."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.errors import Conflict, Invalid, NotAllowed
from incidents import permissions as incident_permissions
from incidents import services as incident_services
from incidents.models import EntryKind, Page, PagePurpose, Severity, TimelineEntry
from oncall.models import ContactMethod
from postmortems import drafting, services
from postmortems.models import Level, Postmortem, Review, Revision, State, Verdict
from tests.conftest import declare, make_user

pytestmark = pytest.mark.django_db


def resolve(incident, by):
    """Resolve the incident and run the drafting timer now, as the ticker would."""
    incident_services.transition(incident, to="resolved", by=by)
    postmortem = Postmortem.objects.get(incident=incident)
    drafting.draft_due(postmortem.pk, timezone.now())
    return Postmortem.objects.get(pk=postmortem.pk)


@pytest.fixture
def reviewer(db):
    user = make_user("reviewer", "Responders")
    ContactMethod.objects.create(user=user, kind="email", address="reviewer@example.test")
    return user


@pytest.fixture
def postmortem(incident, commander):
    return resolve(incident, commander)


def actions(incident) -> list[str]:
    return list(TimelineEntry.objects.filter(incident=incident, kind=EntryKind.POSTMORTEM)
                .order_by("seq").values_list("data__action", flat=True))


def approve_all(postmortem, *reviewers):
    for user in reviewers:
        services.review(postmortem, by=user, verdict=Verdict.APPROVED, comment="")


# --- Editing ------------------------------------------------------------------------------------

def test_edit_saves_the_sections_and_who_saved(postmortem, commander):
    services.edit(postmortem, by=commander, version=postmortem.version,
                  contributing_factors="A **certificate** expired.", went_well="Failover")
    postmortem.refresh_from_db()
    assert postmortem.contributing_factors == "A **certificate** expired."
    assert postmortem.went_well == "Failover"
    assert postmortem.version == 2
    assert postmortem.edited_by == commander and postmortem.edited_at is not None
    assert not postmortem.summary_edited
    assert actions(postmortem.incident) == ["drafted"]  # edits are not on the timeline


def test_editing_the_summary_makes_it_a_persons_and_a_redraft_keeps_it(postmortem, commander):
    services.edit(postmortem, by=commander, version=1, summary="Our words.",
                  learnings="Watch expiry dates.")
    drafting.redraft(postmortem, by=commander)
    postmortem.refresh_from_db()
    assert postmortem.summary_edited
    assert postmortem.summary == "Our words."
    assert postmortem.learnings == "Watch expiry dates."
    assert actions(postmortem.incident) == ["drafted", "redrafted"]


def test_saving_the_same_summary_does_not_freeze_it(postmortem, commander):
    services.edit(postmortem, by=commander, version=1, summary=postmortem.summary)
    postmortem.refresh_from_db()
    assert not postmortem.summary_edited


def test_stale_edit_is_refused_with_the_other_persons_text(postmortem, commander, responder):
    services.edit(postmortem, by=responder, version=1, went_badly="Paging was slow.")
    with pytest.raises(services.StaleEdit) as refused:
        services.edit(postmortem, by=commander, version=1, went_badly="My text.")
    assert refused.value.current.went_badly == "Paging was slow."
    assert refused.value.current.version == 2
    assert "responder saved this post-mortem" in refused.value.message
    postmortem.refresh_from_db()
    assert postmortem.went_badly == "Paging was slow."


def test_edit_refuses_unknown_fields_bad_text_and_readers(postmortem, commander, auditor):
    with pytest.raises(Invalid):
        services.edit(postmortem, by=commander, version=1, state="published")
    with pytest.raises(ValidationError) as bad:
        services.edit(postmortem, by=commander, version=1, learnings="a\x00b")
    assert "learnings" in bad.value.message_dict
    with pytest.raises(ValidationError):
        services.edit(postmortem, by=commander, version=1, learnings="x" * 20001)
    with pytest.raises(NotAllowed):
        services.edit(postmortem, by=auditor, version=1, learnings="Auditors read.")
    postmortem.refresh_from_db()
    assert postmortem.version == 1 and postmortem.learnings == ""


def test_edit_after_an_approval_sends_it_back_to_draft(postmortem, commander, reviewer,
                                                       responder):
    services.submit(postmortem, by=commander, reviewers=[reviewer, responder])
    approve_all(postmortem, reviewer)
    services.edit(postmortem, by=commander, version=1, learnings="One more thing.")
    postmortem.refresh_from_db()
    assert postmortem.state == State.DRAFT
    assert actions(postmortem.incident)[-1] == "returned"


def test_edit_in_review_before_any_approval_stays_in_review(postmortem, commander, reviewer):
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    services.edit(postmortem, by=commander, version=1, learnings="A typo fixed.")
    postmortem.refresh_from_db()
    assert postmortem.state == State.IN_REVIEW


# --- Level --------------------------------------------------------------------------------------

def test_level_change_is_on_the_timeline(postmortem, commander):
    services.set_level(postmortem, by=commander, level=Level.SUMMARY)
    postmortem.refresh_from_db()
    assert postmortem.level == Level.SUMMARY
    entry = TimelineEntry.objects.filter(incident=postmortem.incident,
                                         kind=EntryKind.POSTMORTEM).order_by("-seq").first()
    assert entry.data["action"] == "level"
    assert (entry.old_value, entry.new_value) == ("full", "level")
    assert "lightweight summary (was full post-mortem)" in entry.note


def test_choosing_a_document_for_a_p4_drafts_the_facts(commander, service):
    incident = declare(by=commander, severity=Severity.P4, services=[service])
    postmortem = resolve(incident, commander)
    assert postmortem.level == Level.NONE and postmortem.facts == {}
    services.set_level(postmortem, by=commander, level=Level.FULL)
    postmortem.refresh_from_db()
    assert postmortem.facts["incident"]["number"] == incident.pk
    assert actions(incident) == ["level", "drafted"]


def test_none_only_while_nobody_has_written_in_it(postmortem, commander):
    services.set_level(postmortem, by=commander, level=Level.NONE)
    services.set_level(postmortem, by=commander, level=Level.FULL)
    services.edit(postmortem, by=commander, version=1, went_well="Failover.")
    with pytest.raises(Conflict, match="choose the summary instead"):
        services.set_level(postmortem, by=commander, level=Level.NONE)
    postmortem.refresh_from_db()
    assert postmortem.level == Level.FULL
    assert actions(postmortem.incident) == ["drafted", "level", "level"]


def test_level_refuses_junk_and_readers(postmortem, commander, auditor):
    with pytest.raises(Invalid):
        services.set_level(postmortem, by=commander, level="huge")
    with pytest.raises(NotAllowed):
        services.set_level(postmortem, by=auditor, level=Level.NONE)


# --- Review and publication ---------------------------------------------------------------------

def test_submit_names_reviewers_and_notifies_them(postmortem, commander, reviewer,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        services.submit(postmortem, by=commander, reviewers=[reviewer])
    postmortem.refresh_from_db()
    assert postmortem.state == State.IN_REVIEW
    assert postmortem.submitted_by == commander
    assert [(r.reviewer, r.verdict) for r in postmortem.reviews.all()] == [
        (reviewer, Verdict.PENDING)]
    notice = Page.objects.get(purpose=PagePurpose.NOTICE, user=reviewer)
    assert notice.reason == f"pm-review:{postmortem.pk}:1:1"
    assert "please review the post-mortem" in notice.subject
    entry = TimelineEntry.objects.get(incident=postmortem.incident, kind=EntryKind.POSTMORTEM,
                                      data__action="submitted")
    assert entry.data["reviewers"] == ["reviewer"]


def test_submit_refuses_no_reviewer_only_oneself_and_the_blind(
        postmortem, commander, restricted_incident, outsider):
    with pytest.raises(Invalid, match="at least one"):
        services.submit(postmortem, by=commander, reviewers=[])
    with pytest.raises(Invalid, match="Someone other than you"):
        services.submit(postmortem, by=commander, reviewers=[commander])
    with pytest.raises(Invalid, match="outsider cannot see"):
        services.submit(postmortem, by=commander, reviewers=[outsider])
    hidden = resolve(restricted_incident, commander)
    stranger = make_user("stranger", "Responders")
    with pytest.raises(Invalid, match="stranger cannot see"):
        services.submit(hidden, by=commander, reviewers=[stranger])
    assert Review.objects.count() == 0
    postmortem.refresh_from_db()
    assert postmortem.state == State.DRAFT


def test_a_restricted_incidents_reviewer_with_access_is_accepted(restricted_incident, commander):
    hidden = resolve(restricted_incident, commander)
    trusted = make_user("trusted", "Responders")
    incident_permissions.grant_view(restricted_incident, user=trusted)
    services.submit(hidden, by=commander, reviewers=[trusted])
    assert Postmortem.objects.get(pk=hidden.pk).state == State.IN_REVIEW


def test_only_named_reviewers_review_and_changes_need_a_comment(postmortem, commander,
                                                                reviewer, responder):
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    with pytest.raises(NotAllowed):
        services.review(postmortem, by=responder, verdict=Verdict.APPROVED)
    with pytest.raises(Invalid, match="Say what should change"):
        services.review(postmortem, by=reviewer, verdict=Verdict.CHANGES, comment="  ")
    with pytest.raises(Invalid):
        services.review(postmortem, by=reviewer, verdict="pending")
    services.review(postmortem, by=reviewer, verdict=Verdict.CHANGES,
                    comment="Name the *expiry* monitor.")
    postmortem.refresh_from_db()
    assert postmortem.state == State.DRAFT
    review = postmortem.reviews.get()
    assert (review.verdict, review.comment) == (Verdict.CHANGES, "Name the *expiry* monitor.")
    assert actions(postmortem.incident)[-1] == "changes_requested"


def test_publish_needs_every_approval(postmortem, commander, reviewer, responder):
    services.submit(postmortem, by=commander, reviewers=[reviewer, responder])
    approve_all(postmortem, reviewer)
    with pytest.raises(Conflict, match="waiting for responder"):
        services.publish(postmortem, by=commander)
    assert Revision.objects.count() == 0


def test_full_flow_to_a_corrected_second_revision_with_diff(
        postmortem, commander, reviewer, django_capture_on_commit_callbacks):
    services.edit(postmortem, by=commander, version=1, contributing_factors="An expired cert.")
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    approve_all(postmortem, reviewer)
    services.publish(postmortem, by=commander)
    postmortem.refresh_from_db()
    assert postmortem.state == State.PUBLISHED
    assert postmortem.published_by == commander and postmortem.published_at
    first = Revision.objects.get(postmortem=postmortem, number=1)
    assert "An expired cert." in first.markdown
    assert "*Full post-mortem · Published · revision 1*" in first.markdown
    assert first.content["state"] == "published"
    assert first.content["sections"]["contributing_factors"] == "An expired cert."

    # Read-only once published.
    with pytest.raises(Conflict, match="read-only"):
        services.edit(postmortem, by=commander, version=postmortem.version, learnings="x")
    with pytest.raises(Conflict):
        services.set_level(postmortem, by=commander, level=Level.SUMMARY)
    with pytest.raises(Conflict):
        drafting.redraft(postmortem, by=commander)

    with pytest.raises(Invalid):
        services.correct(postmortem, by=commander, reason=" ")
    services.correct(postmortem, by=commander, reason="The cert was an intermediate one.")
    postmortem.refresh_from_db()
    assert (postmortem.state, postmortem.revision) == (State.DRAFT, 2)
    assert postmortem.reviews.count() == 0
    services.edit(postmortem, by=commander, version=postmortem.version,
                  contributing_factors="An expired intermediate cert.")
    with django_capture_on_commit_callbacks():
        services.submit(postmortem, by=commander, reviewers=[reviewer])
    approve_all(postmortem, reviewer)
    services.publish(postmortem, by=commander)
    second = Revision.objects.get(postmortem=postmortem, number=2)
    assert second.reason == "The cert was an intermediate one."
    assert Revision.objects.get(number=1).markdown == first.markdown  # unchanged

    rows = services.diff(first, second)
    assert {"kind": "removed", "text": "An expired cert."} in rows
    assert {"kind": "added", "text": "An expired intermediate cert."} in rows
    assert {"kind": "added", "text": "> Correction: The cert was an intermediate one\\."} in rows
    assert {r["kind"] for r in rows} <= {"same", "added", "removed", "gap"}
    # Each round notified again under its own reason.
    assert sorted(Page.objects.filter(user=reviewer, purpose=PagePurpose.NOTICE)
                  .values_list("reason", flat=True)) == [f"pm-review:{postmortem.pk}:1:1",
                                                         f"pm-review:{postmortem.pk}:2:1"]
    assert actions(postmortem.incident) == [
        "drafted", "submitted", "approved", "published", "correction", "submitted", "approved",
        "published"]


def test_a_second_round_notifies_again(postmortem, commander, reviewer,
                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        services.submit(postmortem, by=commander, reviewers=[reviewer])
        services.review(postmortem, by=reviewer, verdict=Verdict.CHANGES, comment="More.")
        services.submit(postmortem, by=commander, reviewers=[reviewer])
    reasons = set(Page.objects.filter(user=reviewer).values_list("reason", flat=True))
    assert reasons == {f"pm-review:{postmortem.pk}:1:1", f"pm-review:{postmortem.pk}:1:2"}
    assert postmortem.reviews.get().verdict == Verdict.PENDING


def test_newer_entries_counts_the_record_since_the_draft(postmortem, commander):
    assert services.newer_entries(postmortem) == 0
    incident_services.add_note(postmortem.incident, text="The vendor confirmed.", by=commander)
    assert services.newer_entries(postmortem) == 1
