"""Running an incident in a real browser: declare, acknowledge, notes and status changes over
htmx, watched live from a second browser; and the same actions as plain form posts without
JavaScript."""

import re

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import Incident, Status, TimelineEntry
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT_MS = 10_000  # the second page learns of changes by polling every 3 s


def set_marker(page, value: str) -> None:
    """A value on `window` survives htmx swaps and is gone after any full page load."""
    page.evaluate("value => { window.__relayMarker = value; }", value)


def marker(page):
    return page.evaluate("() => window.__relayMarker")


def declare_from_dashboard(page, title: str, severity: str) -> None:
    declare_form = page.locator("#declare")
    declare_form.get_by_label("Title").fill(title)
    # Not get_by_label/#id_severity: the dashboard's filter form also renders id="id_severity".
    declare_form.locator("select[name=severity]").select_option(severity)
    declare_form.get_by_role("button", name="Declare").click()


def post_response(page, path_suffix: str):
    return page.expect_response(
        lambda response: response.request.method == "POST" and response.url.endswith(path_suffix)
    )


def test_responder_runs_incident_and_second_browser_follows_without_reload(
    live_server, open_page, responder, commander
):
    page = open_page()
    login(page, live_server, responder)

    declare_from_dashboard(page, "Checkout returns 502", "P2")
    expect(page).to_have_url(re.compile(r"/incidents/\d+/$"))
    incident = Incident.objects.get(title="Checkout returns 502")
    detail_url = f"{live_server.url}/incidents/{incident.pk}/"
    expect(page).to_have_url(detail_url)
    header = page.locator("#incident-header")
    expect(header.locator(".ref")).to_have_text(f"INC-{incident.pk}")
    expect(header.locator(".title")).to_have_text("Checkout returns 502")
    expect(page.locator("#incident-status")).to_have_text("Triggered")
    expect(page.locator("#incident-severity")).to_have_text("P2 · Major")
    assert incident.severity == "P2"
    assert incident.declared_by == responder

    set_marker(page, "first")
    page.locator("#acknowledge-button").click()
    expect(page.locator("#incident-status")).to_have_text("Acknowledged")
    expect(page.locator("#acknowledge-button")).to_have_count(0)
    expect(page.locator("#timeline-entries .kind-status")).to_contain_text(
        "changed status from Triggered to Acknowledged")
    assert marker(page) == "first", "acknowledging reloaded the page"

    watcher = open_page()
    login(watcher, live_server, commander)
    watcher.goto(detail_url)
    expect(watcher.locator("#incident-status")).to_have_text("Acknowledged")
    # declared, acknowledged, and the acknowledger made commander (nobody commanded it)
    expect(watcher.locator("#timeline-entries > li")).to_have_count(3)
    set_marker(watcher, "second")

    note = "Rolled back deploy 4512; 502s are falling"
    page.locator("#id_text").fill(note)
    page.locator("#note-button").click()
    expect(page.locator("#timeline-entries .kind-note")).to_contain_text(note)
    expect(page.locator("#id_text")).to_have_value("")
    watcher_note = watcher.locator("#timeline-entries .kind-note")
    expect(watcher_note).to_contain_text(note, timeout=LIVE_TIMEOUT_MS)
    expect(watcher_note.locator(".who")).to_have_text("responder")
    expect(watcher.locator("#timeline-entries > li")).to_have_count(4)

    page.locator("#id_status").select_option(label="Investigating")
    page.locator("#transition-button").click()
    expect(page.locator("#incident-status")).to_have_text("Investigating")
    expect(watcher.locator("#incident-status")).to_have_text(
        "Investigating", timeout=LIVE_TIMEOUT_MS)

    page.locator("#id_status").select_option(label="Resolved")
    page.locator("#transition-button").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator("#timeline-entries .kind-status").last).to_contain_text(
        "changed status from Investigating to Resolved")
    expect(watcher.locator("#incident-status")).to_have_text(
        "Resolved", timeout=LIVE_TIMEOUT_MS)
    expect(watcher.locator("#timeline-entries > li")).to_have_count(6)

    assert marker(page) == "first", "the acting page reloaded"
    assert marker(watcher) == "second", "the watching page reloaded"
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.acknowledged_at is not None and incident.resolved_at is not None
    assert list(incident.timeline.order_by("seq").values_list("kind", "new_value")) == [
        ("declared", "P2"), ("status", "acknowledged"), ("role", "responder"), ("note", ""),
        ("status", "investigating"), ("status", "resolved"),
    ]


def test_without_javascript_declare_acknowledge_and_note_are_form_posts(
    live_server, open_page, responder
):
    page = open_page(javascript=False)
    login(page, live_server, responder)
    assert page.evaluate("() => typeof window.htmx") == "undefined"

    page.locator("#id_title").fill("Search returns stale results")
    page.locator("#declare select[name=severity]").select_option("P3")
    with post_response(page, "/incidents/declare/") as posted:
        page.get_by_role("button", name="Declare").click()
    incident = Incident.objects.get(title="Search returns stale results")
    detail_url = f"{live_server.url}/incidents/{incident.pk}/"
    assert posted.value.status in (302, 303)
    assert posted.value.headers["location"] == f"/incidents/{incident.pk}/"
    expect(page).to_have_url(detail_url)
    expect(page.locator("#incident-header .ref")).to_have_text(f"INC-{incident.pk}")
    expect(page.locator("#incident-status")).to_have_text("Triggered")

    with post_response(page, f"/incidents/{incident.pk}/acknowledge/") as posted:
        page.locator("#acknowledge-button").click()
    assert posted.value.status in (302, 303)
    expect(page).to_have_url(detail_url)
    expect(page.locator("#incident-status")).to_have_text("Acknowledged")
    expect(page.locator("#acknowledge-button")).to_have_count(0)

    with post_response(page, f"/incidents/{incident.pk}/notes/") as posted:
        page.locator("#id_text").fill("Index rebuilt; results are fresh again")
        page.locator("#note-button").click()
    assert posted.value.status in (302, 303)
    expect(page).to_have_url(detail_url)
    expect(page.locator("#timeline-entries .kind-note")).to_contain_text(
        "Index rebuilt; results are fresh again")

    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert list(incident.timeline.order_by("seq").values_list("kind", flat=True)) == [
        "declared", "status", "role", "note"]


def test_without_javascript_bad_input_shows_form_error_and_writes_nothing(
    live_server, open_page, responder, commander, console
):
    console.allow_status(400)  # Chromium logs every 400 response, and these are expected
    page = open_page(javascript=False)
    login(page, live_server, responder)

    # A title of spaces passes the browser's `required` check; the server strips and rejects it.
    page.locator("#id_title").fill("   ")
    with post_response(page, "/incidents/declare/") as posted:
        page.get_by_role("button", name="Declare").click()
    assert posted.value.status == 400
    expect(page).to_have_url(f"{live_server.url}/incidents/declare/")
    expect(page.locator("#declare .errorlist")).to_have_text("This field is required.")
    assert not Incident.objects.exists()

    incident = services.declare(title="Search returns stale results", severity="P3",
                                by=responder)
    services.acknowledge(incident, by=responder)
    detail_url = f"{live_server.url}/incidents/{incident.pk}/"
    page.goto(detail_url)
    entries_before = TimelineEntry.objects.filter(incident=incident).count()

    page.locator("#id_text").fill("  \n  ")
    with post_response(page, f"/incidents/{incident.pk}/notes/") as posted:
        page.locator("#note-button").click()
    assert posted.value.status == 400
    expect(page.locator(".note-form .errorlist")).to_have_text("This field is required.")
    assert TimelineEntry.objects.filter(incident=incident).count() == entries_before

    # Meanwhile the commander resolves it; this page still offers the stale "Identified".
    page.goto(detail_url)
    services.transition(incident, to=Status.RESOLVED, by=commander)
    entries_before = TimelineEntry.objects.filter(incident=incident).count()
    page.locator("#id_status").select_option(label="Identified")
    with post_response(page, f"/incidents/{incident.pk}/transition/") as posted:
        page.locator("#transition-button").click()
    assert posted.value.status == 400
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator("#action-transition .errorlist")).to_contain_text("Select a valid choice")
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert TimelineEntry.objects.filter(incident=incident).count() == entries_before


def test_acknowledge_on_stale_page_explains_it_is_already_acknowledged(
    live_server, open_page, responder, commander, console
):
    console.allow_status(400)
    incident = services.declare(title="Checkout returns 502", severity="P2", by=commander)
    detail_url = f"{live_server.url}/incidents/{incident.pk}/"
    late = open_page()
    login(late, live_server, responder)
    late.goto(detail_url)
    # A page that has not polled since: the next poll would take the button away.
    late.evaluate("() => document.getElementById('timeline-poller').remove()")
    early = open_page()
    login(early, live_server, commander)
    early.goto(detail_url)
    early.locator("#acknowledge-button").click()
    expect(early.locator("#incident-status")).to_have_text("Acknowledged")

    with post_response(late, f"/incidents/{incident.pk}/acknowledge/") as posted:
        late.locator("#acknowledge-button").click()
    assert posted.value.status == 400
    expect(late.locator("#incident-status")).to_have_text("Acknowledged")
    assert list(incident.timeline.values_list("kind", flat=True)) == [
        "declared", "status", "role"]
    expect(late.locator("#action-acknowledge .errorlist")).to_contain_text(
        f"INC-{incident.pk} is already acknowledged", timeout=2_000)
    expect(late.locator("#role-commander")).to_have_text("commander")
