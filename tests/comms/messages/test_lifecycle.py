"""The message lifecycle and its guards, through the services every surface calls."""

import pytest
from django.core.exceptions import ValidationError

from comms.messages import services
from comms.models import CustomerMessage, MessageDelivery, MessageState
from config.errors import Conflict, Invalid, NotAllowed
from incidents import services as incident_services
from incidents.models import EntryKind, Status
from tests.comms.messages.conftest import affect


def _draft(incident, by, **kwargs):
    fields = {"phase": "investigating", "subject": "Checkout is slow",
              "body": "We are looking into slow checkouts.", **kwargs}
    return services.draft(incident, by=by, **fields)


def _actions(incident):
    return [e.data.get("action") for e in incident.timeline.filter(kind=EntryKind.MESSAGE)
            .order_by("seq")]


def test_responder_drafts_and_submits_csm_publishes(incident, responder, csm, customer,
                                                    django_capture_on_commit_callbacks):
    message = _draft(incident, responder)
    services.submit(message, by=responder)
    with django_capture_on_commit_callbacks():
        services.publish(message, by=csm)
    message.refresh_from_db()
    assert message.state == MessageState.PUBLISHED
    assert message.published_by == csm and message.published_at is not None
    assert sorted(MessageDelivery.objects.filter(message=message)
                  .values_list("email", flat=True)) == ["cto@acme.test", "ops@acme.test"]
    assert _actions(incident) == ["drafted", "submitted"]
    published = incident.timeline.get(kind=EntryKind.MESSAGE_PUBLISHED)
    assert published.created_at == message.published_at
    assert published.data["message"] == message.pk and published.data["recipients"] == 2


def test_responder_cannot_publish_or_approve(incident, responder, customer):
    message = _draft(incident, responder)
    with pytest.raises(NotAllowed, match="Only Communications can publish"):
        services.publish(message, by=responder)
    services.submit(message, by=responder)
    with pytest.raises(NotAllowed, match="Only Communications can approve"):
        services.approve(message, by=responder)
    message.refresh_from_db()
    assert message.state == MessageState.PENDING


def test_auditor_cannot_draft(incident, auditor):
    with pytest.raises(NotAllowed, match="cannot draft"):
        _draft(incident, auditor)
    assert not CustomerMessage.objects.exists()


def test_enterprise_needs_a_second_csm(incident, tier, csm, csm2,
                                       django_capture_on_commit_callbacks):
    affect(incident, tier, approval=True)
    message = _draft(incident, csm)
    with pytest.raises(Conflict, match="Enterprise customers need a second person"):
        services.publish(message, by=csm)
    services.submit(message, by=csm)
    message.refresh_from_db()
    assert message.requires_approval
    with pytest.raises(NotAllowed, match="another person of Communications must approve"):
        services.approve(message, by=csm)
    with django_capture_on_commit_callbacks():
        services.approve(message, by=csm2)
    message.refresh_from_db()
    assert (message.state, message.approved_by, message.published_by) == (
        MessageState.PUBLISHED, csm2, csm2)
    assert _actions(incident) == ["drafted", "submitted", "approved"]


def test_submitter_cannot_approve_what_they_submitted(incident, tier, responder, csm, csm2):
    affect(incident, tier, approval=True)
    message = _draft(incident, responder)
    services.edit(message, by=csm, version=1, body="Edited by the CSM.")
    services.submit(message, by=csm)
    with pytest.raises(NotAllowed, match="wrote or submitted"):
        services.approve(message, by=csm)


def test_tier_named_on_the_incident_requires_approval(commander, tier, csm):
    incident = incident_services.declare(title="EU outage", severity="P2", by=commander,
                                         customer_tiers=[tier])
    affect(incident, tier, approval=True)
    assert services.approval_tiers(incident) == ["Enterprise"]


def test_stale_edit_is_refused_with_the_other_text(incident, csm, csm2):
    message = _draft(incident, csm)
    services.edit(message, by=csm2, version=1, body="The second CSM's words.")
    with pytest.raises(services.StaleEdit) as refused:
        services.edit(message, by=csm, version=1, body="My older words.")
    assert refused.value.current.body == "The second CSM's words."
    assert "not saved" in refused.value.message
    message.refresh_from_db()
    assert (message.body, message.version) == ("The second CSM's words.", 2)


def test_editing_a_pending_message_sends_it_back_to_draft(incident, csm):
    message = _draft(incident, csm)
    services.submit(message, by=csm)
    services.edit(message, by=csm, version=1, subject="New subject")
    message.refresh_from_db()
    assert (message.state, message.submitted_by) == (MessageState.DRAFT, None)


def test_responder_edits_only_own_drafts(incident, responder, commander):
    message = _draft(incident, commander)
    with pytest.raises(NotAllowed):
        services.edit(message, by=responder, version=1, body="Not mine.")


def test_resolved_phase_refused_while_open(incident, csm, customer):
    message = _draft(incident, csm, phase="resolved", subject="All good")
    with pytest.raises(Conflict, match="says resolved, but INC-.* is still triggered"):
        services.publish(message, by=csm)


def test_going_back_a_phase_is_refused(incident, csm, customer, commander,
                                       django_capture_on_commit_callbacks):
    incident_services.transition(incident, to=Status.MONITORING, by=commander)
    first = _draft(incident, csm, phase="monitoring", subject="Fix deployed")
    with django_capture_on_commit_callbacks():
        services.publish(first, by=csm)
    back = _draft(incident, csm, phase="investigating", subject="Looking again")
    with pytest.raises(Conflict, match="last told “Monitoring”; this message goes back"):
        services.publish(back, by=csm)
    # The incident itself went back: the message follows it.
    incident_services.transition(incident, to=Status.INVESTIGATING, by=commander)
    with django_capture_on_commit_callbacks():
        services.publish(back, by=csm)
    back.refresh_from_db()
    assert back.state == MessageState.PUBLISHED


def test_second_open_draft_blocks_publication(incident, csm, csm2, customer):
    first = _draft(incident, csm)
    second = _draft(incident, csm2, subject="Another take")
    drafted = incident.timeline.filter(kind=EntryKind.MESSAGE).order_by("-seq").first()
    assert f"conflicts with open draft #{first.pk}" in drafted.note
    with pytest.raises(Conflict, match=f"Draft #{second.pk} .* is also open"):
        services.publish(first, by=csm)
    services.discard(second, by=csm2)
    services.publish(first, by=csm)
    assert _actions(incident) == ["drafted", "drafted", "discarded"]


def test_same_text_to_same_audience_is_refused(incident, csm, customer,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        services.publish(_draft(incident, csm), by=csm)
    again = _draft(incident, csm, body="We are  looking into slow\ncheckouts.")
    with pytest.raises(Conflict, match="already went to the same audience"):
        services.publish(again, by=csm)


def test_no_recipients_is_refused_with_a_sentence(incident, csm):
    message = _draft(incident, csm)
    with pytest.raises(Invalid, match="No affected customer has a contact"):
        services.publish(message, by=csm)
    status_page_only = _draft(incident, csm, to_customers=False, to_status_page=True,
                              subject="Status page only")
    services.discard(message, by=csm)
    services.publish(status_page_only, by=csm)
    assert not MessageDelivery.objects.exists()


def test_next_publication_supersedes_the_previous(incident, csm, customer, commander,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        first = services.publish(_draft(incident, csm), by=csm)
    incident_services.transition(incident, to=Status.IDENTIFIED, by=commander)
    with django_capture_on_commit_callbacks():
        second = services.publish(_draft(incident, csm, phase="identified",
                                         subject="Cause found"), by=csm)
    first.refresh_from_db()
    assert first.superseded_by == second
    assert incident.timeline.filter(kind=EntryKind.MESSAGE_PUBLISHED).count() == 2


def test_input_errors_name_their_field(incident, csm):
    with pytest.raises(ValidationError) as refused:
        services.draft(incident, by=csm, phase="later", subject=" ", body="x\x00",
                       to_customers=False, to_status_page=False)
    assert set(refused.value.message_dict) == {"phase", "subject", "body", "to_customers"}


def test_published_message_cannot_be_discarded(incident, csm, customer,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        message = services.publish(_draft(incident, csm), by=csm)
    with pytest.raises(Conflict, match="already published"):
        services.discard(message, by=csm)
