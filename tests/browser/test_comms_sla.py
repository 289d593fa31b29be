"""SLA clocks in a real browser: counting down on the incident page and the dashboard, paused
with a reason and resumed over htmx, met after resolving, and no sideways scroll on a phone."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from comms.models import ClockPause, ContractTarget, Customer, SlaClock, SlaTarget, TierPolicy
from incidents.models import CustomerTier, EntryKind, Incident
from incidents.timeline import record
from tests.browser.conftest import login
from tests.conftest import declare, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _enterprise_incident(commander, csm):
    tier = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    TierPolicy.objects.create(tier=tier)
    SlaTarget.objects.create(tier=tier, severity="P2", response_minutes=30,
                             resolution_minutes=480)
    acme = Customer.objects.create(name="Acme Corp", tier=tier, csm=csm)
    ContractTarget.objects.create(customer=acme, severity="P2", response_minutes=20)
    incident = declare(by=commander, commander=commander, title="Checkout slow for Acme")
    with transaction.atomic():
        Incident.objects.select_for_update().get(pk=incident.pk)
        acme.incidents.add(incident)
        record(incident, EntryKind.CUSTOMERS, csm, data={"added": ["Acme Corp"]})
    # A minute and a bit left on the response clock: the browser must tick it under a minute.
    SlaClock.objects.filter(incident=incident, kind="response").update(
        due_at=timezone.now() + timedelta(seconds=63))
    return incident


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate(
        "document.documentElement.clientWidth")


def test_clocks_count_down_pause_resume_and_meet(live_server, open_page, console):
    commander = make_user("commander", "Responders")
    csm = make_user("csm", "Communications")
    incident = _enterprise_incident(commander, csm)
    console.allow_status(400)  # the empty reason is refused in place

    page = open_page()
    login(page, live_server, csm)
    row = page.locator("#incident-list tr", has_text="Checkout slow for Acme")
    expect(row.locator(".sla-left")).to_have_text("1m left of 20m")
    expect(row.locator(".sla-left")).to_have_text("<1m left of 20m", timeout=8000)

    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    panel = page.locator("#sla-panel")
    response = panel.locator(".sla-clock", has_text="Response")
    expect(response).to_contain_text("Acme Corp")
    expect(response.locator(".sla-left")).to_have_text("<1m left of 20m", timeout=8000)
    expect(panel.locator(".sla-clock", has_text="Resolution")).to_contain_text("left of 8h")

    page.locator("#id_reason").fill("   ")  # blank: the server refuses it beside the field
    page.locator("#sla-pause").click()
    expect(panel.locator(".errorlist")).to_be_visible()
    page.locator("#id_reason").fill("Waiting for Acme's HAR file")
    page.locator("#sla-pause").click()
    expect(panel.locator(".sla-paused")).to_contain_text("Waiting for Acme's HAR file")
    expect(response).to_contain_text("paused")
    expect(page.locator("#timeline-entries")).to_contain_text("Waiting for Acme's HAR file")
    assert ClockPause.objects.get().paused_by == csm

    page.locator("#sla-resume").click()
    expect(page.locator("#sla-pause")).to_be_visible()
    expect(panel.locator(".sla-clock", has_text="Resolution")).to_contain_text("left of 8h")
    assert ClockPause.objects.get().ended_at is not None

    commander_page = open_page()
    login(commander_page, live_server, commander)
    commander_page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    commander_page.locator("#id_status").select_option("resolved")
    commander_page.locator("#transition-button").click()
    resolution = commander_page.locator("#sla-panel .sla-clock", has_text="Resolution")
    expect(resolution).to_contain_text("met with 7h")
    expect(commander_page.locator("#sla-pause")).to_have_count(0)


def test_phone_width_has_no_sideways_scroll(live_server, open_page):
    commander = make_user("commander", "Responders")
    csm = make_user("csm", "Communications")
    incident = _enterprise_incident(commander, csm)
    page = open_page()
    page.set_viewport_size({"width": 390, "height": 800})
    login(page, live_server, csm)
    expect(page.locator("#incident-list .sla-left")).to_contain_text("left of 20m")
    _no_sideways_scroll(page)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator("#sla-panel .sla-clock")).to_have_count(2)
    _no_sideways_scroll(page)
    page.goto(f"{live_server.url}/sla/")
    expect(page.locator("#open-clocks .sla-clock")).to_have_count(2)
    _no_sideways_scroll(page)
