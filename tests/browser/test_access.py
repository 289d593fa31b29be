"""Who sees what, in the browser: the read-only auditor, and a restricted incident that a
responder sees only once the commander grants access from the incident page."""

import pytest
from playwright.sync_api import expect

from incidents import services
from tests.browser.conftest import login
from tests.conftest import declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_auditor_reads_incident_without_action_forms_and_verifies_integrity(
    live_server, page, auditor, commander
):
    incident = declare(by=commander, title="Checkout returns 502")
    services.acknowledge(incident, by=commander)
    services.add_note(incident, text="Rolled back **deploy 4512**", by=commander)

    login(page, live_server, auditor)
    expect(page.locator("#declare")).to_have_count(0)
    page.get_by_role("link", name=f"INC-{incident.pk} Checkout returns 502").click()
    expect(page).to_have_url(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator("#incident-header .title")).to_have_text("Checkout returns 502")
    expect(page.locator("#incident-status")).to_have_text("Acknowledged")
    entries = page.locator("#timeline-entries > li")
    expect(entries).to_have_count(4)
    expect(entries.nth(0)).to_contain_text("declared the incident as P2")
    expect(entries.nth(1)).to_contain_text("changed status from Triggered to Acknowledged")
    expect(entries.nth(2)).to_contain_text("made commander commander")
    expect(entries.nth(3).locator(".note strong")).to_have_text("deploy 4512")

    for action in ("#acknowledge-button", "#transition-button", "#note-button", "#id_text",
                   "#incident-panel .actions"):
        expect(page.locator(action)).to_have_count(0)
    expect(page.locator("main form")).to_have_count(0)
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

    page.get_by_role("link", name="verify integrity").click()
    expect(page).to_have_url(f"{live_server.url}/incidents/{incident.pk}/verify/")
    expect(page.locator("#verdict")).to_contain_text(
        "Intact: 4 entries, every link, hash and signature holds")


def test_restricted_incident_hidden_until_commander_grants_responder_in_browser(
    live_server, open_page, commander, responder, restricted_incident, console
):
    console.allow_status(404)  # the responder is expected to hit the 404 page once
    declare(by=commander, title="Checkout returns 502")
    detail_path = f"/incidents/{restricted_incident.pk}/"

    responder_page = open_page()
    login(responder_page, live_server, responder)
    incident_list = responder_page.locator("#incident-list tbody")
    expect(incident_list).to_contain_text("Checkout returns 502")
    expect(incident_list).not_to_contain_text("Suspicious admin logins")
    expect(responder_page.locator("#open-counts strong")).to_have_text("1")
    response = responder_page.goto(live_server.url + detail_path)
    assert response.status == 404
    expect(responder_page.get_by_role("heading", name="Nothing here")).to_be_visible()
    expect(responder_page.locator("body")).not_to_contain_text("Suspicious admin logins")

    commander_page = open_page()
    login(commander_page, live_server, commander)
    commander_page.goto(live_server.url + detail_path)
    expect(commander_page.locator("#incident-header")).to_contain_text("Restricted")
    commander_page.locator("summary", has_text="Visibility").click()
    grant_form = commander_page.locator(
        "form", has=commander_page.get_by_role("button", name="Grant access"))
    grant_form.get_by_label("User").select_option("responder")
    grant_form.get_by_role("button", name="Grant access").click()
    expect(commander_page.locator("#timeline-entries .kind-restriction")).to_contain_text(
        "granted access to user responder")

    responder_page.goto(live_server.url + "/")
    responder_page.get_by_role(
        "link", name=f"INC-{restricted_incident.pk} Suspicious admin logins").click()
    expect(responder_page).to_have_url(live_server.url + detail_path)
    expect(responder_page.locator("#incident-header .title")).to_have_text(
        "Suspicious admin logins")
    expect(responder_page.locator("#incident-header")).to_contain_text("Restricted")
