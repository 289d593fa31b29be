"""The dashboard's filters in the browser: htmx swaps the list and pushes the URL, and loading
that URL directly renders the same list."""

import re

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import Status
from tests.browser.conftest import login
from tests.conftest import declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded(commander):
    declare(by=commander, title="Checkout returns 502", severity="P2")
    declare(by=commander, title="Checkout images slow", severity="P3")
    declare(by=commander, title="Payments API latency", severity="P1")
    declare(by=commander, title="Search index lag", severity="P3")
    closed = declare(by=commander, title="Checkout declines cards", severity="P2")
    services.transition(closed, to=Status.RESOLVED, by=commander)


def listed(page) -> list[str]:
    return page.locator("#incident-list tbody td:first-child a").all_text_contents()


def titles(*names):
    """Rows as the list shows them, `INC-<n> <title>`, without pinning the numbers."""
    return [re.compile(rf"^INC-\d+ {re.escape(name)}$") for name in names]


def test_search_and_severity_filter_update_list_and_url_and_url_loads_same_list(
    live_server, page, responder, seeded
):
    login(page, live_server, responder)
    links = page.locator("#incident-list tbody td:first-child a")
    # Open incidents only, most severe first.
    expect(links).to_have_text(titles("Payments API latency", "Checkout returns 502",
                                      "Checkout images slow", "Search index lag"))
    page.evaluate("() => { window.__relayMarker = 'dashboard'; }")
    filters = page.locator("form.filters")

    search = filters.locator("input[name=q]")
    search.fill("checkout")
    search.press("Enter")
    # A search without a chosen status looks in every status, closed incidents last.
    expect(links).to_have_text(titles("Checkout returns 502", "Checkout images slow",
                                      "Checkout declines cards"))
    expect(page.locator("#list-heading")).to_contain_text("Matching incidents in any status")
    expect(page).to_have_url(re.compile(r"\?(.*&)?q=checkout(&|$)"))

    # Not #id_severity: the declare form on this page renders the same id.
    filters.locator("select[name=severity]").select_option("P3")
    expect(links).to_have_text(titles("Checkout images slow"))
    expect(page).to_have_url(re.compile(r"\?(.*&)?severity=P3(&|$)"))
    expect(page).to_have_url(re.compile(r"\?(.*&)?q=checkout(&|$)"))
    assert page.evaluate("() => window.__relayMarker") == "dashboard", "filtering reloaded"
    filtered_url = page.url
    shown = listed(page)

    page.goto(filtered_url)
    assert page.evaluate("() => window.__relayMarker") is None  # a real load this time
    expect(links).to_have_text(shown)
    expect(filters.locator("input[name=q]")).to_have_value("checkout")
    expect(filters.locator("select[name=severity]")).to_have_value("P3")

    # Narrowing the search to open incidents hides the closed one again.
    filters.locator("select[name=severity]").select_option("")
    filters.locator("select[name=status]").select_option("open")
    expect(links).to_have_text(titles("Checkout returns 502", "Checkout images slow"))
    expect(page).to_have_url(re.compile(r"\?(.*&)?status=open(&|$)"))
