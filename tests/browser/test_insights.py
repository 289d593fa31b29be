"""The insights page in a real browser: filter by dates and team, read the charts and their
numbers, download a chart's CSV; and no sideways scroll on a phone."""

import csv
import hashlib
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Alert, Incident, Integration, Page, Service
from tests.browser.conftest import login
from tests.conftest import make_team, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _history(commander):
    """Two teams' incidents this week and one of Payments 40 days ago, with pages and alerts."""
    now = timezone.now().replace(microsecond=0)
    payments, identity = make_team("Payments"), make_team("Identity")
    checkout = Service.objects.create(name="Checkout API", slug="checkout", team=payments)
    auth = Service.objects.create(name="Auth", slug="auth", team=identity)
    source = Integration.objects.create(service=checkout, name="Prometheus", format="generic",
                                        key_hash=hashlib.sha256(b"p").hexdigest(), key_prefix="p")
    rows = []
    for title, service, days, ack in (("Checkout 502s", checkout, 1, 4),
                                      ("Login loops", auth, 2, 10),
                                      ("Old checkout outage", checkout, 40, 30)):
        start = now - timedelta(days=days)
        incident = Incident.objects.create(
            title=title, severity="P2", status="resolved", started_at=start, detected_at=start,
            acknowledged_at=start + timedelta(minutes=ack),
            resolved_at=start + timedelta(minutes=ack + 50))
        incident.services.set([service])
        Page.objects.create(incident=incident, step=0, round=0, user=commander, channel="email",
                            address="c@example.test", created_at=start)
        rows.append(incident)
    Alert.objects.create(integration=source, service=checkout, incident=rows[0], dedup_key="k",
                         summary="5xx", count=7, first_seen=now - timedelta(days=1),
                         status="resolved")
    return payments, now.date()


def test_filter_read_and_download(live_server, open_page):
    commander = make_user("commander", "Responders")
    payments, today = _history(commander)
    page = open_page()
    login(page, live_server, commander)
    page.goto(f"{live_server.url}/insights/")
    # Default: the last 90 days, every team.
    expect(page.locator("#insights-scope")).to_contain_text("3 incidents started")
    expect(page.locator("svg[role=img]")).to_have_count(11)
    expect(page.locator("#figure-services svg")).to_contain_text("Checkout API")

    # Last 30 days, Payments only: the old outage and Identity's incident drop out.
    page.locator("#id_start").fill((today - timedelta(days=29)).isoformat())
    page.locator("#id_end").fill(today.isoformat())
    page.locator("#id_team").select_option(label="Payments")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#insights-scope")).to_contain_text(
        "1 incident started")
    expect(page.locator("#insights-scope")).to_contain_text("on services of Payments")
    assert f"team={payments.pk}" in page.url

    figure = page.locator("#figure-teams")
    figure.get_by_text("Numbers").click()
    table = figure.locator("table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("Payments")
    oncall = page.locator("#figure-oncall")
    oncall.get_by_text("Numbers").click()
    expect(oncall.locator("tbody tr")).to_contain_text("commander")

    with page.expect_download() as download:
        page.locator("#figure-alert-sources").get_by_role("link",
                                                          name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert rows == [["Integration", "Service", "Alerts", "Events"],
                    ["Prometheus", "Checkout API", "1", "7"]]
    assert download.value.suggested_filename.startswith("relay-alert-sources-")


def test_bad_date_is_shown_beside_the_field_and_phone_fits(live_server, open_page, console):
    commander = make_user("commander", "Responders")
    _history(commander)
    console.allow_status(400)
    page = open_page()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server, commander)
    page.goto(f"{live_server.url}/insights/?start=2026-03-10&end=2026-03-01")
    expect(page.locator("#insights-filters .errorlist")).to_have_text(
        "The end is before the start.")
    page.goto(f"{live_server.url}/insights/")
    expect(page.locator("svg[role=img]").first).to_be_visible()
    for details in page.locator("main details").all():
        details.locator("summary").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate(
        "document.documentElement.clientWidth")
