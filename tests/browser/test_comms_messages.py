"""A customer update in a real browser: an engineer posts notes, the update comes due and Relay
prepares a draft, the communications lead edits and submits it, a second CSM approves it, and
the Enterprise customer's contacts receive it over SMTP; the log shows each delivery."""

import pytest
from playwright.sync_api import expect

from comms.messages import reminders
from comms.models import CustomerMessage, MessageState, UpdateCadence
from incidents import services
from tests.browser.conftest import login
from tests.comms.messages.conftest import affect
from tests.conftest import declare, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_due_update_is_prepared_edited_approved_and_delivered(
        live_server, open_page, responder, csm, service, tier, smtp_server):
    second_csm = make_user("csm2", "Communications")
    incident = declare(by=responder, title="Checkout returns 502", services=[service],
                       description="Card payments fail for a third of attempts.")
    services.assign_roles(incident, by=responder, commander=responder, comms_lead=csm)
    affect(incident, tier, name="Acme Corp", emails=("ops@acme.test", "cto@acme.test"),
           approval=True)
    detail = f"{live_server.url}/incidents/{incident.pk}/"

    engineer = open_page()
    login(engineer, live_server, responder)
    engineer.goto(detail)
    engineer.locator("#id_text").fill("Error rate at 40% on checkout-api")
    engineer.locator("#note-button").click()
    expect(engineer.locator("#timeline-entries .kind-note")).to_contain_text("Error rate at 40%")

    cadence = UpdateCadence.objects.get(incident=incident)
    prepared = reminders.remind(cadence.pk, cadence.due_at)
    assert prepared is not None and prepared.prepared

    lead = open_page()
    login(lead, live_server, csm)
    lead.goto(detail)
    entry = lead.locator(f"#message-{prepared.pk}")
    expect(entry).to_contain_text("Relay (prepared)")
    expect(entry.locator(".message-body")).to_contain_text("Error rate at 40% on checkout-api")
    expect(lead.locator("#update-cadence [data-countdown-to]")).to_contain_text("due in 1h")
    entry.locator("summary", has_text="Edit").click()
    body = entry.locator(f"#id_m{prepared.pk}_body")
    body.fill("We are investigating failed card payments at checkout.\n\n"
              "Next update within 30 minutes.")
    entry.locator(".save-button").click()
    expect(lead.locator(f"#message-{prepared.pk} .message-body")).to_contain_text(
        "failed card payments")
    lead.locator(f"#message-{prepared.pk} .submit-button").click()
    expect(lead.locator(f"#message-{prepared.pk} .msg-state")).to_have_text("Awaiting approval")
    # The author sees no approve button: a second person must approve.
    expect(lead.locator(f"#message-{prepared.pk} .approve-button")).to_have_count(0)

    approver = open_page()
    login(approver, live_server, second_csm)
    approver.goto(detail)
    approver.locator(f"#message-{prepared.pk} .approve-button").click()
    log_entry = approver.locator(f"#message-{prepared.pk}")
    expect(log_entry.locator(".msg-state")).to_have_text("Published")
    expect(log_entry.locator(".delivery-status")).to_have_text(["delivered", "delivered"])
    expect(log_entry).to_contain_text("Approved")
    expect(approver.locator("#timeline-entries .kind-message_published")).to_have_count(1)

    message = CustomerMessage.objects.get(pk=prepared.pk)
    assert (message.state, message.approved_by, message.submitted_by) == (
        MessageState.PUBLISHED, second_csm, csm)
    assert sorted(m["To"] for m in smtp_server) == ["Contact 1 <ops@acme.test>",
                                                    "Contact 2 <cto@acme.test>"]
    assert all("failed card payments" in m.get_content() for m in smtp_server)

    approver.set_viewport_size({"width": 390, "height": 844})
    approver.goto(detail)
    expect(approver.locator(f"#message-{prepared.pk}")).to_be_visible()
    assert approver.evaluate("document.documentElement.scrollWidth") <= 390
