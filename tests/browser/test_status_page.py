"""The status page in a real browser, end to end: a customer subscribes from the public page and
confirms by the emailed link; an incident opens on a linked service and the component shows it;
the CSM publishes an update for the status page from the incident's communication log; the
public page and summary.json show the published words (never the internal title);
the subscriber receives the update over SMTP; at phone width the page fits."""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from comms.models import Component, ComponentGroup, StatusPage
from tests.browser.conftest import ARTIFACTS, login
from tests.conftest import declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How long to wait for a publication to reach the page: generous, as a loaded CI machine is slow.
# How stale the page really gets is measured by bench/status_page.py, not asserted here.
WAIT = 15.0


def _until(check, seconds=WAIT):
    """Poll `check()` until it returns something truthy; how long it took."""
    started = time.monotonic()
    while True:
        value = check()
        if value:
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.2)


def test_csm_publishes_and_page_json_and_subscriber_follow(live_server, open_page, commander,
                                                           csm, service, smtp_server):
    StatusPage.objects.update_or_create(pk=1, defaults={"name": "Acme status"})
    group = ComponentGroup.objects.create(name="Shop", position=1)
    checkout = Component.objects.create(name="Checkout", group=group, position=1)
    checkout.services.add(service)
    Component.objects.create(name="Search", group=group, position=2)
    status_url = f"{live_server.url}/status/"

    # A customer subscribes to Checkout, without JavaScript, and confirms by the emailed link.
    customer = open_page(javascript=False)
    customer.goto(status_url)
    expect(customer.locator("h1.banner")).to_have_text("All Systems Operational")
    customer.get_by_role("link", name=re.compile("Subscribe")).first.click()
    customer.get_by_label("Email address").fill("buyer@customer.test")
    customer.get_by_label("Checkout").check()
    customer.get_by_role("button", name="Subscribe").click()
    expect(customer.locator("body")).to_contain_text("Check your inbox")
    confirm = smtp_server[-1]
    assert confirm["To"] == "buyer@customer.test"
    link = re.search(r"https?://\S+/status/subscribe/confirm/\S+", confirm.get_content()).group()
    customer.goto(live_server.url + link[link.index("/status/"):])
    customer.get_by_role("button", name="Confirm").click()
    expect(customer.locator("#confirm h1")).to_have_text("Subscribed")

    # An incident on the linked service: the component follows it at once.
    incident = declare(by=commander, title="db-primary-3 OOM kills pgbouncer",
                       services=[service])
    incident.comms_lead = csm
    incident.save(update_fields=["comms_lead"])
    _until(lambda: (customer.goto(status_url), customer.locator(".component", has_text="Checkout")
                    .inner_text())[1].find("Partial outage") >= 0)

    # The CSM publishes an update for the status page from the communication log.
    lead = open_page()
    login(lead, live_server, csm)
    lead.goto(f"{live_server.url}/incidents/{incident.pk}/")
    lead.locator("#new-message summary").click()
    form = lead.locator("#new-message form")
    form.get_by_label("Subject").fill("Card payments are failing")
    form.get_by_label("Body").fill("Some card payments fail at checkout. We are on it.")
    form.get_by_label("Email the affected customers' contacts").uncheck()
    form.get_by_label("Show on the status page").check()
    lead.locator("#draft-button").click()
    draft = lead.locator("#message-log .message").last
    expect(draft).to_contain_text("Card payments are failing")
    draft.locator(".publish-button").click()
    expect(lead.locator("#message-log .message").last.locator(".msg-state")).to_have_text(
        "Published")

    # The public page and summary.json show the published words within seconds; never the
    # incident's internal title.
    _until(lambda: (customer.goto(status_url),
                    "Some card payments fail" in customer.content())[1])
    expect(customer.locator(".incident h3")).to_have_text("Card payments are failing")
    assert "db-primary-3" not in customer.content()

    def summary():
        response = customer.request.get(f"{status_url}api/v2/summary.json")
        assert response.status == 200 and response.headers["content-type"] == "application/json"
        return json.loads(response.body())

    _until(lambda: summary()["incidents"])
    document = summary()
    assert document["page"]["name"] == "Acme status"
    assert document["status"]["indicator"] == "major"
    [shown] = document["incidents"]
    assert shown["name"] == "Card payments are failing"
    assert [u["body"] for u in shown["incident_updates"]] == [
        "Some card payments fail at checkout. We are on it."]
    assert {c["name"]: c["status"] for c in document["components"] if not c["group"]} == {
        "Checkout": "partial_outage", "Search": "operational"}
    assert "db-primary-3" not in json.dumps(document)

    # The subscriber receives the update (the worker runs tasks synchronously in tests).
    _until(lambda: any(m["To"] == "buyer@customer.test" and "Card payments are failing"
                       in m["Subject"] for m in smtp_server))
    update = next(m for m in smtp_server if "Card payments are failing" in m["Subject"])
    assert "Some card payments fail at checkout." in update.get_content()
    assert "db-primary-3" not in update.get_content()
    assert str(update["List-Unsubscribe"]).strip().startswith("<http")

    # At phone width the page fits: no horizontal scroll.
    phone = open_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(status_url)
    expect(phone.locator(".incident h3")).to_have_text("Card payments are failing")
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=ARTIFACTS / "status-page-390.png", full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
