"""The update cadence: defaults by severity, set by hand, moved by publications, and the
reminder with its prepared draft when an update comes due."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from comms.messages import cadence, reminders, services
from comms.models import CustomerMessage, MessageState, MessageTemplate, UpdateCadence
from config.errors import NotAllowed
from incidents import services as incident_services
from incidents.models import EntryKind, Page, PagePurpose, Severity, Status
from tests.comms.messages.conftest import affect
from tests.concurrency import race
from tests.conftest import declare
from tests.oncall.conftest import add_contact


def _due(incident):
    return UpdateCadence.objects.get(incident=incident)


def test_declaration_sets_the_cadence_by_severity(commander):
    p1 = declare(by=commander, severity=Severity.P1)
    p2 = declare(by=commander, severity=Severity.P2)
    p4 = declare(by=commander, severity=Severity.P4)
    assert (_due(p1).minutes, _due(p2).minutes) == (30, 120)
    assert _due(p2).due_at == p2.timeline.get(kind=EntryKind.DECLARED).created_at \
        + timedelta(minutes=120)
    assert not UpdateCadence.objects.filter(incident=p4).exists()


def test_defaults_come_from_settings(commander, settings):
    settings.RELAY_UPDATE_CADENCE_MINUTES = {"P1": 15, "P2": 60, "P3": 0, "P4": 0}
    assert _due(declare(by=commander, severity=Severity.P2)).minutes == 60
    assert not UpdateCadence.objects.filter(
        incident=declare(by=commander, severity=Severity.P3)).exists()


def test_cadence_follows_severity_until_set_by_hand(incident, commander, csm):
    incident_services.change_severity(incident, severity=Severity.P1, by=commander)
    assert _due(incident).minutes == 30
    cadence.set_cadence(incident, by=csm, minutes=45)
    incident_services.change_severity(incident, severity=Severity.P3, by=commander)
    row = _due(incident)
    assert (row.minutes, row.set_by) == (45, csm)
    entry = incident.timeline.get(kind=EntryKind.MESSAGE, data__action="cadence")
    assert "every 45 minutes" in entry.note


def test_who_sets_the_cadence(incident, commander, responder, auditor):
    with pytest.raises(NotAllowed):
        cadence.set_cadence(incident, by=responder, minutes=60)
    with pytest.raises(NotAllowed):
        cadence.set_cadence(incident, by=auditor, minutes=60)
    incident_services.assign_roles(incident, by=commander, comms_lead=responder)
    assert cadence.set_cadence(incident, by=responder, minutes=60).minutes == 60
    with pytest.raises(ValidationError, match="Between 5 minutes"):
        cadence.set_cadence(incident, by=responder, minutes=2)


def test_publication_moves_the_due_time_and_closing_clears_it(
        incident, csm, commander, customer, django_capture_on_commit_callbacks):
    message = services.draft(incident, by=csm, phase="investigating", subject="Slow",
                             body="Looking into it.")
    with django_capture_on_commit_callbacks():
        services.publish(message, by=csm)
    message.refresh_from_db()
    assert _due(incident).due_at == message.published_at + timedelta(minutes=120)
    incident_services.transition(incident, to=Status.RESOLVED, by=commander)
    assert _due(incident).due_at is None
    incident_services.transition(incident, to=Status.INVESTIGATING, by=commander)
    assert _due(incident).due_at == message.published_at + timedelta(minutes=120)


def _scripted(commander, service, csm, tier):
    incident = declare(by=commander, title="Checkout returns 502", services=[service],
                       description="Card payments fail for about a third of attempts.")
    affect(incident, tier, name="Acme Corp")
    incident_services.add_note(incident, text="Error rate at 40% on checkout-api", by=commander)
    incident_services.transition(incident, to=Status.IDENTIFIED, by=commander)
    return incident


def test_due_update_prepares_a_draft_and_reminds_the_lead(commander, service, csm, tier):
    incident = _scripted(commander, service, csm, tier)
    incident_services.assign_roles(incident, by=commander, comms_lead=csm)
    add_contact(csm)
    row = _due(incident)
    assert reminders.due_cadences(row.due_at - timedelta(seconds=1)) == []
    assert reminders.due_cadences(row.due_at) == [row.pk]
    message = reminders.remind(row.pk, row.due_at)
    assert (message.prepared, message.author, message.phase) == (True, None, "identified")
    assert message.subject == "Identified: Checkout API disruption"
    assert "affecting Checkout API" in message.body
    assert "Card payments fail for about a third of attempts." in message.body
    assert "Error rate at 40% on checkout-api" in message.body
    assert "status changed to identified" in message.body
    due = incident.timeline.get(kind=EntryKind.MESSAGE, data__action="update_due")
    assert "Reminded the communications lead, csm" in due.note
    notice = Page.objects.get(incident=incident, purpose=PagePurpose.NOTICE)
    assert (notice.user, notice.reason) == (csm, f"update-due:{incident.pk}:"
                                                 f"{row.due_at.isoformat()}")
    # Once per due time.
    assert reminders.remind(row.pk, row.due_at + timedelta(minutes=1)) is None
    assert reminders.due_cadences(row.due_at + timedelta(minutes=1)) == []


def test_updates_since_the_last_publication_only(commander, service, csm, tier,
                                                 django_capture_on_commit_callbacks):
    incident = _scripted(commander, service, csm, tier)
    MessageTemplate.objects.create(phase="identified", subject="{incident} update",
                                   body="Customers: {customers}\n{updates}")
    first = services.draft(incident, by=csm, phase="identified", subject="Found it",
                           body="We found the cause.")
    with django_capture_on_commit_callbacks():
        services.publish(first, by=csm)
    incident_services.add_note(incident, text="Rollback started", by=commander)
    row = _due(incident)
    message = reminders.remind(row.pk, row.due_at)
    assert message.subject == f"{incident.reference} update"
    assert "Customers: Acme Corp" in message.body
    assert "Rollback started" in message.body
    assert "Error rate at 40%" not in message.body


def test_no_comms_lead_reminds_the_commander(incident, commander):
    incident_services.assign_roles(incident, by=commander, commander=commander)
    add_contact(commander)
    row = _due(incident)
    reminders.remind(row.pk, row.due_at)
    due = incident.timeline.get(kind=EntryKind.MESSAGE, data__action="update_due")
    assert "No communications lead: reminded the commander, commander." in due.note
    assert Page.objects.get(purpose=PagePurpose.NOTICE).user == commander


def test_open_draft_is_not_doubled_and_prepared_one_is_refreshed(incident, commander, csm):
    row = _due(incident)
    prepared = reminders.remind(row.pk, row.due_at)
    incident_services.add_note(incident, text="New finding", by=commander)
    UpdateCadence.objects.filter(pk=row.pk).update(due_at=row.due_at + timedelta(hours=2))
    again = reminders.remind(row.pk, row.due_at + timedelta(hours=2))
    assert again.pk == prepared.pk
    prepared.refresh_from_db()
    assert prepared.version == 2 and "New finding" in prepared.body
    services.edit(prepared, by=csm, version=2, body="The CSM's own words.")
    UpdateCadence.objects.filter(pk=row.pk).update(due_at=row.due_at + timedelta(hours=4))
    reminders.remind(row.pk, row.due_at + timedelta(hours=4))
    prepared.refresh_from_db()
    assert prepared.body == "The CSM's own words."
    assert CustomerMessage.objects.filter(state=MessageState.DRAFT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_racing_runs_remind_once(commander):
    if connection.vendor != "postgresql":
        pytest.skip("row locks race only on PostgreSQL; SQLite serialises every write")
    incident = declare(by=commander, commander=commander)
    add_contact(commander)
    row = _due(incident)
    results = race(lambda: reminders.remind(row.pk, row.due_at))
    assert sorted(r is None for r in results) == [False, True]
    assert incident.timeline.filter(kind=EntryKind.MESSAGE, data__action="update_due").count() == 1
    assert Page.objects.filter(purpose=PagePurpose.NOTICE).count() == 1
    assert CustomerMessage.objects.count() == 1
