"""The portal's navigation in a real browser: on a phone one "Menu" opens every area, no page
scrolls sideways and Log out stays in reach; on a desktop the bar and its "More"; declaring from
the nav link; finding a resolved incident from the dashboard's search."""

import re

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import Incident, Status
from tests.browser.conftest import login
from tests.conftest import declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
AREAS = {  # label → a heading the area's page shows
    "Incidents": "Incidents", "Declare": "Declare an incident", "On call": "On call",
    "Services": "Services", "Customers": "Customers", "SLA": "SLA",
    "Status page": "Status page", "Post-mortems": "Post-mortems",
    "Report an issue": "Report", "Action items": "action items", "Insights": "Insights",
    "Rules": "Alert rules", "Webhooks": "Outgoing webhooks", "Audit": "Audit log",
}


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_phone_menu_reaches_every_area_without_sideways_scrolling(live_server, page, admin_user,
                                                                  service):
    page.set_viewport_size(PHONE)
    login(page, live_server, admin_user)
    menu = page.locator("details.nav-menu")
    expect(page.locator("nav.nav-bar")).to_be_hidden()  # the desktop bar gives way
    for label, heading in AREAS.items():
        menu.locator("summary").click()
        link = menu.get_by_role("link", name=label, exact=True)
        expect(link).to_be_visible()
        assert link.bounding_box()["height"] >= 44, label
        link.click()
        expect(page.locator("h1").first).to_contain_text(re.compile(heading, re.IGNORECASE))
        expect(menu.locator("a[aria-current=page]")).to_have_text(label)
        assert fits_the_screen(page), f"{label} scrolls sideways at 390 px"
        log_out = page.get_by_role("button", name="Log out")
        expect(log_out).to_be_in_viewport()
        assert log_out.bounding_box()["height"] >= 44
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_desktop_bar_groups_the_rest_under_more(live_server, page, admin_user):
    login(page, live_server, admin_user)
    bar = page.locator("nav.nav-bar")
    expect(page.locator("details.nav-menu")).to_be_hidden()
    expect(bar.get_by_role("link", name="Rules", exact=True)).to_be_hidden()
    bar.locator(".nav-more summary").click()
    bar.get_by_role("link", name="Rules", exact=True).click()
    expect(page.locator("h1")).to_have_text("Alert rules")
    expect(bar.locator(".nav-more summary")).to_have_class(re.compile(r"\bcurrent\b"))
    assert fits_the_screen(page)


def test_declare_from_the_nav_link_on_a_phone(live_server, page, responder, service):
    page.set_viewport_size(PHONE)
    login(page, live_server, responder)
    page.locator("details.nav-menu summary").click()
    page.locator("details.nav-menu").get_by_role("link", name="Declare", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/incidents/declare/")
    form = page.locator("#declare form")
    form.get_by_label("Title").fill("Checkout returns 502")
    form.get_by_label("Severity").select_option("P2")
    form.locator("summary", has_text="More (optional)").click()
    form.get_by_label("Services").select_option(label=service.name)
    form.get_by_role("button", name="Declare").click()
    incident = Incident.objects.get()
    expect(page).to_have_url(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator("h1")).to_contain_text("Checkout returns 502")
    assert fits_the_screen(page)


def test_search_from_the_dashboard_finds_a_resolved_incident(live_server, page, responder):
    old = declare(by=responder, title="Payments double-charged")
    services.transition(old, to=Status.RESOLVED, by=responder)
    declare(by=responder, title="Search index lag")
    login(page, live_server, responder)
    rows = page.locator("#incident-list tbody td:first-child a")
    expect(rows).to_have_text([re.compile("Search index lag")])  # open ones only
    search = page.get_by_label("Search")
    search.fill("double-charged")
    search.press("Enter")
    expect(rows).to_have_text([re.compile(rf"INC-{old.pk} Payments double-charged")])
    expect(page.locator("#list-heading")).to_contain_text("Matching incidents in any status")
    page.get_by_role("link", name="Only open ones").click()
    expect(page.locator("#incident-list td.empty")).to_be_visible()
    rows.first.page.get_by_label("Search").fill("")
