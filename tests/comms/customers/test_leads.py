"""The owning team's lead hears of a declaration over a real SMTP server; an incident that
pages nobody says so on its timeline, its page and the forms that would declare it."""

import pytest
from django.urls import reverse

from comms.customers import services as customer_services
from incidents import services
from incidents.models import EntryKind, Incident, Page, PagePurpose
from incidents.paging import delivery
from oncall.models import ContactMethod
from tests.conftest import declare
from tests.oncall.conftest import add_contact, make_policy


def notices(incident):
    return list(Page.objects.filter(incident=incident, purpose=PagePurpose.NOTICE))


def nobody_entries(incident):
    return [e for e in incident.timeline.filter(kind=EntryKind.NOTIFICATION)
            if e.note.startswith("Nobody will be paged")]


def test_lead_hears_of_declaration_over_smtp(responder, service, smtp_server,
                                             django_capture_on_commit_callbacks):
    lead = service.team.lead
    add_contact(lead)
    incident = declare(by=responder, title="Checkout returns 502", services=[service])
    [notice] = notices(incident)
    assert (notice.user, notice.reason) == (lead, "lead:declared")
    delivery.deliver(notice.pk)
    [mail] = smtp_server
    assert mail["To"] == lead.email
    assert mail["Subject"] == (f"[Relay] {incident.reference} P2 declared on Checkout API: "
                               "Checkout returns 502")
    assert "which your team owns" in mail.get_body().get_content()
    entry = incident.timeline.get(kind=EntryKind.NOTIFICATION)
    assert entry.note == "Notified commander (lead of the owning team)."


def test_lead_who_declared_is_not_told(commander, service):
    add_contact(commander)
    incident = declare(by=commander, services=[service])
    assert notices(incident) == []
    assert not incident.timeline.filter(kind=EntryKind.NOTIFICATION).exists()


def test_lead_hears_of_customer_report_too(csm, service, acme):
    add_contact(service.team.lead)
    incident = customer_services.report_issue(by=csm, title="Acme down", service=service,
                                              customers=[acme], what_customer_sees="500s")
    assert [n.user for n in notices(incident)] == [service.team.lead]


def test_restricted_incident_notice_carries_no_title(responder, service):
    add_contact(service.team.lead)
    incident = declare(by=responder, title="Secret breach", services=[service], restricted=True)
    [notice] = notices(incident)
    assert "Secret breach" not in notice.subject + notice.body


def test_nobody_paged_is_on_the_timeline(responder, silent_service):
    incident = declare(by=responder, services=[silent_service])
    [entry] = nobody_entries(incident)
    assert entry.note == ("Nobody will be paged: Legacy reports has no escalation policy and "
                          "no team lead. Page someone by hand or give it a policy.")


def test_policy_or_lead_or_no_services_is_not_silent(responder, silent_service, commander):
    assert nobody_entries(declare(by=responder)) == []
    silent_service.escalation_policy = make_policy({"users": [commander]})
    silent_service.save()
    assert nobody_entries(declare(by=responder, services=[silent_service])) == []


def test_page_false_is_not_flagged(responder, silent_service):
    assert nobody_entries(declare(by=responder, services=[silent_service], page=False)) == []


def test_incident_page_banner_while_open(client, commander, silent_service):
    incident = declare(by=commander, services=[silent_service])
    client.force_login(commander)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'id="nobody-paged"' in page and "Nobody will be paged" in page
    services.transition(incident, to="resolved", by=commander)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'id="nobody-paged"' not in page


def test_no_banner_when_a_lead_exists(client, commander, incident):
    client.force_login(commander)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'id="nobody-paged"' not in page


@pytest.mark.parametrize("user_fixture", ["csm", "commander"])
def test_paging_check_warns_for_a_silent_service(client, request, user_fixture,
                                                 silent_service, service):
    client.force_login(request.getfixturevalue(user_fixture))
    url = reverse("incidents:paging-check")
    page = client.get(url, {"service": silent_service.pk}).content.decode()
    assert "Nobody will be paged: Legacy reports has no escalation policy" in page
    page = client.get(url, {"services": [service.pk]}).content.decode()
    assert 'id="paging-warning"' in page and "Nobody will be paged" not in page


def test_paging_check_needs_a_declaring_role(client, auditor, silent_service):
    client.force_login(auditor)
    assert client.get(reverse("incidents:paging-check"),
                      {"service": silent_service.pk}).status_code == 403


def test_declare_form_error_repeats_warning(client, commander, silent_service):
    client.force_login(commander)
    response = client.post(reverse("incidents:declare"), {
        "title": "", "severity": "P3", "services": [silent_service.pk]})
    assert response.status_code == 400
    assert "Nobody will be paged: Legacy reports" in response.content.decode()
    assert not Incident.objects.exists()


def test_report_form_error_repeats_warning(client, csm, silent_service):
    client.force_login(csm)
    response = client.post(reverse("customers:report"), {
        "title": "x", "service": silent_service.pk, "severity": "suggested"})
    assert response.status_code == 400
    assert "Nobody will be paged: Legacy reports" in response.content.decode()


def test_lead_without_contact_method_is_named(responder, service):
    assert not ContactMethod.objects.exists()
    incident = declare(by=responder, services=[service])
    entry = incident.timeline.get(kind=EntryKind.NOTIFICATION)
    assert "No contact method for commander" in entry.note


def test_two_silent_services_are_named_together(responder, silent_service):
    other = silent_service.__class__.objects.create(name="Old exports", slug="old-exports",
                                                    team=silent_service.team)
    [entry] = nobody_entries(declare(by=responder, services=[silent_service, other]))
    assert entry.note.startswith("Nobody will be paged: Legacy reports, Old exports have no "
                                 "escalation policy")


def test_incident_opened_without_paging_tells_no_lead(responder, service):
    """A maintenance window or a suppression rule opens the incident quietly: the lead is not
    told either."""
    add_contact(service.team.lead)
    incident = declare(by=responder, title="Checkout 502s during the upgrade", services=[service],
                       page=False)
    assert notices(incident) == []
    assert not incident.timeline.filter(kind=EntryKind.NOTIFICATION).exists()
