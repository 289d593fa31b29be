"""The customer-communications path end to end, in real browsers over real SMTP: a CSM reports
an Enterprise customer's issue → the owning team's lead is notified → an engineer acknowledges
and posts updates → the customer update comes due and Relay prepares a draft → the CSM edits it,
a second CSM approves, it is published and the customer's contacts receive it → the SLA panel
shows time left, then "met" once the incident is resolved."""

import re

import pytest
from playwright.sync_api import expect

from comms.messages import reminders
from comms.models import (
    CustomerMessage,
    MessageDelivery,
    MessageState,
    SlaClock,
    SlaTarget,
    TierPolicy,
    UpdateCadence,
)
from incidents import services
from incidents.models import CustomerTier, EntryKind, Incident, Page, PagePurpose, Service
from incidents.paging import delivery
from tests.browser.conftest import login
from tests.comms.customers.conftest import make_customer
from tests.conftest import make_team, make_user
from tests.oncall.conftest import add_contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    csm = make_user("casey", "Communications")
    second_csm = make_user("sam", "Communications")
    lead = make_user("lena", "Responders")
    engineer = make_user("eli", "Responders")
    add_contact(lead, "email", "lena@example.test")
    add_contact(csm, "email", "casey@example.test")
    team = make_team("Identity", lead, engineer)
    team.lead = lead
    team.save()
    service = Service.objects.create(name="Single sign-on", slug="sso", team=team)
    enterprise = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    TierPolicy.objects.create(tier=enterprise, suggested_severity="P2", message_approval=True)
    SlaTarget.objects.create(tier=enterprise, severity="P2", response_minutes=30,
                             resolution_minutes=480)
    acme = make_customer("Acme Corp", enterprise, "crm-0001", csm=csm,
                         contacts=[("Dana Reyes", "dana@acme.example.com", "CTO"),
                                   ("Ops desk", "ops@acme.example.com", "IT operations")])
    return {"csm": csm, "second_csm": second_csm, "lead": lead, "engineer": engineer,
            "service": service, "acme": acme}


def test_reported_issue_to_approved_customer_update_and_met_sla(live_server, open_page, world,
                                                                smtp_server):
    # A CSM reports the customer's issue; the severity comes from the Enterprise tier.
    reporter = open_page()
    login(reporter, live_server, world["csm"])
    reporter.get_by_role("link", name="Report an issue").click()
    reporter.get_by_label("Title").fill("Acme cannot sign in")
    reporter.get_by_label("Affected service").select_option(label="Single sign-on")
    reporter.locator("#report-customer-choices").get_by_label("Acme Corp (Enterprise)").check()
    expect(reporter.locator("#suggested-severity")).to_have_text("P2")
    reporter.get_by_label("What the customer sees").fill("SSO login loops back to the login page.")
    reporter.get_by_role("button", name="Report and open an incident").click()
    expect(reporter).to_have_url(re.compile(r"/incidents/\d+/$"))
    incident = Incident.objects.get(title="Acme cannot sign in")
    detail = f"{live_server.url}/incidents/{incident.pk}/"
    expect(reporter.locator("#incident-severity")).to_have_text("P2 · Major")
    expect(reporter.locator("#affected-customers")).to_contain_text("Acme Corp")

    # The SLA clocks started for Acme: 30 min to respond, 8 h to resolve.
    panel = reporter.locator("#sla-panel")
    expect(panel.locator(".sla-clock", has_text="Response")).to_contain_text("left of 30m")
    expect(panel.locator(".sla-clock", has_text="Resolution")).to_contain_text("left of 8h")

    # The owning team's lead hears of it over SMTP.
    [notice] = Page.objects.filter(incident=incident, purpose=PagePurpose.NOTICE,
                                   reason="lead:declared")
    assert notice.user == world["lead"]
    delivery.deliver(notice.pk)
    [lead_mail] = smtp_server
    assert lead_mail["To"] == "lena@example.test"
    assert "Acme cannot sign in" in lead_mail["Subject"]

    # An engineer acknowledges (the response clock is met) and posts updates.
    engineer = open_page()
    login(engineer, live_server, world["engineer"])
    engineer.goto(detail)
    engineer.locator("#acknowledge-button").click()
    expect(engineer.locator("#incident-status")).to_have_text("Acknowledged")
    engineer.locator("#id_text").fill("Identified: the sso-proxy deploy at 10:02 broke cookies")
    engineer.locator("#note-button").click()
    expect(engineer.locator("#timeline-entries .kind-note")).to_contain_text("sso-proxy deploy")
    expect(engineer.locator("#sla-panel .sla-clock", has_text="Response")).to_contain_text(
        "met with")
    services.assign_roles(incident, by=world["engineer"], comms_lead=world["csm"])

    # The update comes due: Relay prepares the draft and reminds the communications lead.
    cadence = UpdateCadence.objects.get(incident=incident)
    prepared = reminders.remind(cadence.pk, cadence.due_at)
    assert prepared is not None and prepared.prepared
    assert Page.objects.filter(incident=incident, purpose=PagePurpose.NOTICE,
                               user=world["csm"]).exists()

    # The CSM edits the prepared draft (it carries the engineer's update) and submits it.
    reporter.goto(detail)
    entry = reporter.locator(f"#message-{prepared.pk}")
    expect(entry.locator(".message-body")).to_contain_text("sso-proxy deploy")
    entry.locator("summary", has_text="Edit").click()
    entry.locator(f"#id_m{prepared.pk}_body").fill(
        "We found the cause of the sign-in failures and are rolling back a change.\n\n"
        "Next update within 2 hours.")
    entry.locator(".save-button").click()
    expect(reporter.locator(f"#message-{prepared.pk} .message-body")).to_contain_text(
        "rolling back")
    reporter.locator(f"#message-{prepared.pk} .submit-button").click()
    expect(reporter.locator(f"#message-{prepared.pk} .msg-state")).to_have_text(
        "Awaiting approval")
    expect(reporter.locator(f"#message-{prepared.pk} .approve-button")).to_have_count(0)

    # A second CSM approves; it is published and Acme's contacts receive it.
    approver = open_page()
    login(approver, live_server, world["second_csm"])
    approver.goto(detail)
    approver.locator(f"#message-{prepared.pk} .approve-button").click()
    published = approver.locator(f"#message-{prepared.pk}")
    expect(published.locator(".msg-state")).to_have_text("Published")
    expect(published.locator(".delivery-status")).to_have_text(["delivered", "delivered"])
    message = CustomerMessage.objects.get(pk=prepared.pk)
    assert (message.state, message.submitted_by, message.approved_by) == (
        MessageState.PUBLISHED, world["csm"], world["second_csm"])
    customer_mail = [m for m in smtp_server if "acme.example.com" in m["To"]]
    assert sorted(m["To"] for m in customer_mail) == [
        "Dana Reyes <dana@acme.example.com>", "Ops desk <ops@acme.example.com>"]
    for mail in customer_mail:
        assert "rolling back a change" in mail.get_content()
        assert "sso-proxy" not in mail.get_content()  # internal words stay inside
    assert set(MessageDelivery.objects.filter(message=message).values_list(
        "status", flat=True)) == {"delivered"}

    # Resolving stops the resolution clock well within its 8 hours: "met".
    engineer.goto(detail)
    engineer.locator("#id_status").select_option("resolved")
    engineer.locator("#transition-button").click()
    expect(engineer.locator("#incident-status")).to_have_text("Resolved")
    expect(engineer.locator("#sla-panel .sla-clock", has_text="Resolution")).to_contain_text(
        "met with 7h")
    states = dict(SlaClock.objects.filter(incident=incident, replaced_at=None)
                  .values_list("kind", "state"))
    assert states == {"response": "met", "resolution": "met"}
    kinds = set(incident.timeline.values_list("kind", flat=True))
    assert {EntryKind.CUSTOMERS, EntryKind.SLA, EntryKind.NOTIFICATION, EntryKind.MESSAGE,
            EntryKind.MESSAGE_PUBLISHED} <= kinds
