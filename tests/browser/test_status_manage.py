"""The staff status page in a real browser: a CSM reaches it from the navigation, schedules a
maintenance (a time that ends before it starts is refused beside its field first) and sets a
component's status by hand. The page fits a phone."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from comms.models import (
    Component,
    ComponentChange,
    ComponentGroup,
    ComponentStatus,
    Maintenance,
)
from comms.status import notices
from incidents.models import MaintenanceWindow
from tests.browser.conftest import login
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture(autouse=True)
def heard(monkeypatch):
    calls = []
    monkeypatch.setattr(notices, "for_maintenance",
                        lambda m, kind, update=None: calls.append(str(kind)))
    return calls


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate(
        "document.documentElement.clientWidth")


def test_csm_schedules_maintenance_and_sets_a_component_by_hand(live_server, page, console,
                                                                service, heard):
    console.allow_status(400)
    group = ComponentGroup.objects.create(name="Payments", position=1)
    component = Component.objects.create(name="Checkout", group=group, position=1)
    component.services.add(service)
    csm = make_user("casey", "Communications")
    login(page, live_server, csm)
    page.get_by_role("link", name="Status page", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Status page")

    page.get_by_role("link", name="Schedule maintenance").click()
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    page.get_by_label("Name").fill("Database upgrade")
    page.get_by_label("Body").fill("Checkout may be slow for a few minutes.")
    page.get_by_label("Checkout", exact=True).check()
    page.get_by_label("Starts (UTC)").fill(start.strftime(LOCAL))
    page.get_by_label("Ends (UTC)").fill((start - timedelta(hours=1)).strftime(LOCAL))
    page.get_by_label("Also create alert-intake maintenance windows").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_contain_text("The maintenance must end after it starts.")
    assert not Maintenance.objects.exists()
    page.get_by_label("Ends (UTC)").fill((start + timedelta(hours=2)).strftime(LOCAL))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#maintenance")).to_contain_text("Database upgrade")
    row = Maintenance.objects.get()
    assert (row.starts_at, row.ends_at) == (start, start + timedelta(hours=2))
    assert MaintenanceWindow.objects.get().service == service
    assert heard == ["scheduled"]

    item = page.locator(f"#component-{component.code}")
    item.get_by_label("Status").select_option("partial_outage")
    item.get_by_label("Note").fill("Card payments are slow")
    item.get_by_role("button", name="Set Checkout").click()
    expect(page.locator(".messages")).to_contain_text("Checkout is now partial outage.")
    expect(page.locator(f"#component-{component.code} .component-status")).to_have_text(
        "Partial outage")
    change = ComponentChange.objects.get()
    assert (change.new_status, change.note, change.by) == (ComponentStatus.PARTIAL,
                                                           "Card payments are slow", csm)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/status/manage/")
    _no_sideways_scroll(page)
    page.goto(f"{live_server.url}/status/manage/maintenances/{row.code}/")
    _no_sideways_scroll(page)
