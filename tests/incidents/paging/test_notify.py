"""Notices outside escalation (incidents.paging.notify): one per person, method and reason,
through the page outbox over real SMTP, with restricted incidents saying nothing internal."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from incidents import permissions
from incidents.models import EntryKind, Page, PagePurpose, PageStatus
from incidents.paging import delivery
from incidents.paging.notify import notify
from tests.conftest import declare, make_user
from tests.oncall.conftest import add_contact

pytestmark = pytest.mark.django_db


def _notify(incident, people, reason="lead:declared", **kwargs):
    with transaction.atomic():
        return notify(incident, people, reason=reason,
                      subject=kwargs.pop("subject", f"[Relay] {incident.reference} needs a lead"),
                      text=kwargs.pop("text", f"{incident.title} was declared."),
                      why="the owning team's lead", **kwargs)


def test_a_notice_is_delivered_once_per_reason_and_said_on_the_timeline(smtp_server):
    lead = make_user("lena", "Responders")
    add_contact(lead, "email", "lena@example.test")
    incident = declare(title="Checkout 502s")
    [notice] = _notify(incident, [lead])
    assert _notify(incident, [lead]) == []  # the same reason again: nothing new
    assert notice.purpose == PagePurpose.NOTICE and notice.run_id is None
    assert delivery.deliver(notice.pk) == PageStatus.DELIVERED
    [mail] = smtp_server
    assert mail["Subject"] == f"[Relay] {incident.reference} needs a lead"
    assert "Checkout 502s was declared." in mail.get_content()
    assert f"/incidents/{incident.pk}/" in mail.get_content()
    entries = incident.timeline.filter(kind=EntryKind.NOTIFICATION)
    assert [e.note for e in entries] == ["Notified lena (the owning team's lead)."]
    # No delivered-page entry for a notice: the timeline says it once, when queued.
    assert not incident.timeline.filter(kind=EntryKind.PAGE_DELIVERED).exists()


def test_a_person_without_contact_methods_is_named_not_silently_skipped():
    lead = make_user("lena", "Responders")
    incident = declare(title="Checkout 502s")
    assert _notify(incident, [lead]) == []
    [entry] = incident.timeline.filter(kind=EntryKind.NOTIFICATION)
    assert entry.note == ("Nobody could be notified (the owning team's lead). "
                          "No contact method for lena.")


def test_a_restricted_incident_notice_carries_no_internal_text_and_grants_access(smtp_server):
    lead = make_user("lena", "Responders")
    add_contact(lead, "email", "lena@example.test")
    incident = declare(title="Payroll leak", restricted=True)
    assert not permissions.can_view(lead, incident)
    [notice] = _notify(incident, [lead], text="Payroll leak was declared.")
    delivery.deliver(notice.pk)
    [mail] = smtp_server
    assert "Payroll" not in mail["Subject"] + mail.get_content()
    assert incident.reference in mail["Subject"]
    assert permissions.can_view(type(lead).objects.get(pk=lead.pk), incident)


def test_a_failed_notice_is_retried_then_recorded(http_receiver):
    lead = make_user("lena", "Responders")
    http_receiver.status = 500
    add_contact(lead, "webhook", http_receiver.url)
    incident = declare(title="Checkout 502s")
    [notice] = _notify(incident, [lead])
    now = timezone.now()
    for attempt in range(delivery.MAX_ATTEMPTS):
        delivery.deliver(notice.pk, now=now + timedelta(minutes=10 * attempt))
    notice.refresh_from_db()
    assert notice.status == PageStatus.FAILED and notice.attempts == delivery.MAX_ATTEMPTS
    failed = incident.timeline.get(kind=EntryKind.NOTIFICATION, new_value="failed")
    assert "lena" in failed.note and "failed after 4 attempts" in failed.note
    assert Page.objects.filter(purpose=PagePurpose.NOTICE).count() == 1
