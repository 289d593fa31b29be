"""The incident page as a command centre, in a real browser: an error in one action leaves the
rest of the page (and what is typed there) alone, a note being typed survives the poll that
brings someone else's entry, structured updates, keyboard shortcuts, the acknowledger becoming
commander and handing over in one click, and times in the browser's zone."""

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import EntryKind, Status
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT_MS = 10_000  # the page learns of others' changes by polling every 3 s


def open_incident(page, live_server, user, incident):
    login(page, live_server, user)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator("#incident-header .ref")).to_have_text(incident.reference)


def test_an_error_stays_beside_its_control_and_typed_text_survives_others_changes(
        open_page, live_server, console, responder, commander, incident):
    console.allow_status(400)
    services.transition(incident, to=Status.IDENTIFIED, by=commander)
    page = open_page()
    open_incident(page, live_server, responder, incident)
    page.evaluate("() => { window.__kept = 'yes'; }")  # gone after any full page load

    note = page.locator("#id_text")
    note.click()
    note.type("Half-typed: the EU card BIN range")
    page.locator("#id_severity_note").fill("because EU cards")

    # One slip backwards: refused beside the status menu, nothing else on the page changes.
    page.locator("#id_status").select_option(label="Back to investigating")
    page.locator("#transition-button").click()
    transition = page.locator("#action-transition")
    expect(transition.locator(".errorlist")).to_contain_text(
        "goes back from identified to investigating")
    expect(transition.locator("#id_transition_confirm")).to_be_visible()
    expect(page.locator("#incident-status")).to_have_text("Identified")
    expect(note).to_have_value("Half-typed: the EU card BIN range")
    expect(page.locator("#id_severity_note")).to_have_value("because EU cards")

    # Someone else writes and changes the severity: the poll brings both, and the typing stays.
    note.click()
    note.press("End")
    note.type(" 4571")
    services.add_note(incident, text="Card network confirms an outage", by=commander)
    services.change_severity(incident, severity="P1", by=commander)
    expect(page.locator("#timeline-entries .kind-note")).to_contain_text(
        "Card network confirms an outage", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#incident-severity")).to_have_text("P1 · Critical",
                                                            timeout=LIVE_TIMEOUT_MS)
    expect(note).to_have_value("Half-typed: the EU card BIN range 4571")
    expect(page.locator("#id_severity_note")).to_have_value("because EU cards")
    assert page.evaluate("() => document.activeElement.id") == "id_text"

    # Confirming the step back works, in place.
    page.locator("#id_status").select_option(label="Back to investigating")
    page.locator("#id_transition_confirm").check()
    page.locator("#transition-button").click()
    expect(page.locator("#incident-status")).to_have_text("Investigating")
    expect(note).to_have_value("Half-typed: the EU card BIN range 4571")
    assert page.evaluate("() => window.__kept") == "yes", "an action reloaded the page"
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING


def test_keyboard_shortcuts_and_a_structured_update(open_page, live_server, responder, incident):
    page = open_page()
    open_incident(page, live_server, responder, incident)
    page.locator("body").press("?")
    help_dialog = page.locator("#shortcuts-help")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Acknowledge")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.locator("body").press("n")
    assert page.evaluate("() => document.activeElement.id") == "id_text"
    page.keyboard.press("Escape")

    page.locator("body").press("u")
    expect(page.locator("#id_known")).to_be_focused()
    page.keyboard.type("Checkout fails for EU cards since 09:12")
    page.locator("#id_doing").fill("Failing over to the second payment provider")
    page.locator("#id_next_update_minutes").select_option("30")
    page.locator("#id_doing").press("Control+Enter")

    update = page.locator("#timeline-entries .kind-update")
    expect(update).to_contain_text("posted a status update: Triggered")
    expect(update.locator(".update-body")).to_contain_text("Failing over to the second")
    expect(page.locator("#latest-update")).to_contain_text("next expected")
    expect(page.locator("#id_known")).to_have_value("")
    entry = incident.timeline.get(kind=EntryKind.UPDATE)
    assert entry.data["known"] == "Checkout fails for EU cards since 09:12"


def test_the_acknowledger_becomes_commander_and_hands_over_in_one_click(
        open_page, live_server, responder, commander, incident):
    services.assign_roles(incident, by=commander, responders=[commander])
    page = open_page()
    open_incident(page, live_server, responder, incident)
    expect(page.locator("#role-commander")).to_have_text("—")
    page.locator("body").press("a")
    expect(page.locator("#incident-status")).to_have_text("Acknowledged")
    expect(page.locator("#role-commander")).to_have_text("responder")
    expect(page.locator("#timeline-entries")).to_contain_text(
        "made responder commander (acknowledged an incident that had no commander)")

    page.get_by_role("button", name="Hand over to commander").click()
    expect(page.locator("#role-commander")).to_have_text("commander")
    incident.refresh_from_db()
    assert incident.commander == commander


def test_times_follow_the_browsers_zone(browser, console, live_server, responder, incident):
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 1280,
                                                                     "height": 900})
    try:
        page = context.new_page()
        console.watch(page, "Tokyo")
        login(page, live_server, responder)  # the first page tells the server the zone
        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        expect(page.locator("#timeline-heading")).to_contain_text("times in Asia/Tokyo (JST)")
        expect(page.locator("#timeline-entries time").first).to_contain_text(":")
        expect(page.locator("#timeline-entries .ago").first).to_have_text("just now")
        page.locator("#user-settings").click()  # one's own name leads to one's settings
        expect(page.get_by_role("heading", name="Your settings")).to_be_visible()
        page.get_by_label("Time zone").select_option("Europe/Lisbon")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#tz-now")).to_contain_text("Europe/Lisbon")
        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        expect(page.locator("#timeline-heading")).to_contain_text("times in Europe/Lisbon")
    finally:
        context.close()


def test_an_action_in_flight_keeps_its_form_when_a_poll_brings_others_changes(
        open_page, live_server, responder, commander, incident):
    """The poll must not replace a form whose request is on its way: the answer would land in a
    detached copy (lost, and htmx reports every out-of-band region as missing)."""
    page = open_page()
    open_incident(page, live_server, responder, incident)
    held = []
    page.route("**/transition/", lambda route: held.append(route))

    page.locator("#id_status").select_option(label="Investigating")
    page.locator("#transition-button").click()
    page.wait_for_timeout(200)
    assert len(held) == 1, "the status change did not leave the browser"
    services.add_note(incident, text="Payments team is looking", by=commander)
    services.change_severity(incident, severity="P1", by=commander)
    expect(page.locator("#incident-severity")).to_have_text("P1 · Critical",
                                                            timeout=LIVE_TIMEOUT_MS)
    held[0].continue_()

    expect(page.locator("#incident-status")).to_have_text("Investigating")
    expect(page.locator("#action-transition")).to_have_count(1)
    expect(page.locator("#timeline-entries .kind-status")).to_contain_text(
        "changed status from Triggered to Investigating")
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
