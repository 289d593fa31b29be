"""On-call in the browser: override from the schedule page, acknowledging from a page's link,
from My on-call and from the dashboard, escalating by hand from the incident page."""

import re
from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import EscalationRun, Page, Status
from oncall import schedules
from tests.browser.conftest import login
from tests.conftest import declare, make_user
from tests.oncall.conftest import add_contact, add_layer, make_policy, make_schedule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ann(db):
    user = make_user("ann", "Responders")
    add_contact(user)
    return user


def test_create_override_on_schedule_page(live_server, page, responder, ann):
    schedule = make_schedule(name="Checkout primary")
    add_layer(schedule, ann, unit="days", start=datetime(2026, 1, 1).date())
    login(page, live_server, responder)
    page.locator("header nav").get_by_role("link", name="On call", exact=True).click()
    page.get_by_role("link", name="Checkout primary").first.click()
    expect(page.locator("#on-call-now")).to_have_text("ann")
    start = (timezone.now() + timedelta(hours=2)).astimezone(schedule.tz)
    end = start + timedelta(hours=3)
    form = page.locator("#override-form")
    form.locator("#id_user").select_option("responder")
    form.locator("#id_start").fill(start.strftime("%Y-%m-%dT%H:%M"))
    form.locator("#id_end").fill(end.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Create override").click()
    expect(page.locator("#overrides")).to_contain_text("responder:")
    expect(page.locator("#row-overrides .bar")).to_have_text("responder")
    middle = timezone.now() + timedelta(hours=3, minutes=30)
    assert schedules.who_is_on_call(schedule, middle) == responder


def test_override_form_error_is_shown(live_server, page, responder, console):
    schedule = make_schedule(name="Checkout primary")
    console.allow_status(400)
    login(page, live_server, responder)
    page.goto(f"{live_server.url}/oncall/schedules/{schedule.pk}/")
    form = page.locator("#override-form")
    form.locator("#id_user").select_option("responder")
    form.locator("#id_start").fill("2030-01-02T10:00")
    form.locator("#id_end").fill("2030-01-02T09:00")
    form.get_by_role("button", name="Create override").click()
    expect(page.locator("#override-form .errorlist")).to_contain_text(
        "The end must be after the start.")


def test_acknowledge_from_the_emailed_link_needs_a_click(live_server, open_page, ann, settings,
                                                        console):
    settings.SITE_URL = live_server.url
    incident = declare(title="Checkout 502s", escalation_policy=make_policy({"users": [ann]}))
    [message] = mail.outbox  # declared, committed, paged through the sync task queue
    link = re.search(r"Acknowledge: (\S+)", message.body).group(1)
    browser_page = open_page(javascript=False)  # as a mail scanner or a plain phone browser
    browser_page.goto(link)
    expect(browser_page.locator("#confirm-action")).to_be_visible()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED  # opening the link did nothing
    browser_page.locator("#confirm-action").click()
    expect(browser_page.locator("#page-action-done")).to_contain_text("acknowledged by ann")
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert EscalationRun.objects.get(incident=incident).state == "acknowledged"
    console.allow_status(403)  # the refusal below is the answer we expect
    browser_page.goto(link)  # the same link, a second time: used, it cannot act again
    browser_page.locator("#confirm-action").click()
    expect(browser_page.locator("#page-action-error")).to_contain_text("already been used")


def test_acknowledge_from_my_oncall(live_server, page, ann):
    incident = declare(title="Card payments fail", escalation_policy=make_policy({"users": [ann]}))
    login(page, live_server, ann)
    page.goto(f"{live_server.url}/oncall/me/")
    row = page.locator("#my-pages li", has_text="Card payments fail")
    row.get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_url(f"{live_server.url}/oncall/me/")
    expect(page.locator("#my-pages li", has_text="Card payments fail")).to_contain_text(
        "Acknowledged")
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


def test_acknowledge_from_the_dashboard(live_server, page, responder, ann):
    schedule = make_schedule(name="Search primary")
    add_layer(schedule, ann, unit="days", start=datetime(2026, 1, 1).date())
    incident = declare(title="Search is down")
    login(page, live_server, responder)
    expect(page.locator("#dashboard-on-call")).to_contain_text("Search primary: ann")
    page.locator(f"#ack-{incident.pk}").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator(f"#ack-{incident.pk}")).to_have_count(0)
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


def test_offer_and_take_a_swap(live_server, open_page, responder, ann):
    schedule = make_schedule(name="Checkout primary")
    add_layer(schedule, ann, unit="days", start=datetime(2026, 1, 1).date())
    offer_start = (timezone.now() + timedelta(days=2)).astimezone(schedule.tz).replace(
        minute=0, second=0, microsecond=0)
    offer_end = offer_start + timedelta(hours=4)
    ann_page = open_page()
    login(ann_page, live_server, ann)
    ann_page.goto(f"{live_server.url}/oncall/schedules/{schedule.pk}/")
    form = ann_page.locator("#swap-form")
    form.locator("#id_swap_start").fill(offer_start.strftime("%Y-%m-%dT%H:%M"))
    form.locator("#id_swap_end").fill(offer_end.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Offer my shift").click()
    expect(ann_page.locator("#swaps")).to_contain_text("ann offers")
    taker = open_page()
    login(taker, live_server, responder)
    taker.goto(f"{live_server.url}/oncall/schedules/{schedule.pk}/")
    taker.locator("#swaps").get_by_role("button", name="Take it").click()
    expect(taker.locator("#swaps")).to_contain_text("Taken by responder")
    middle = offer_start + timedelta(hours=2)
    assert schedules.who_is_on_call(schedule, middle) == responder
    taker.locator("#swaps").get_by_role("button", name="Undo").click()
    expect(taker.locator("#swaps")).to_contain_text("No open swaps.")
    assert schedules.who_is_on_call(schedule, middle) == ann


def test_policy_page_warns_before_it_matters(live_server, page, responder, ann):
    nights = make_schedule(name="Nights")
    add_layer(nights, ann, restrict_start=time(22), restrict_end=time(6))
    policy = make_policy({"schedules": [nights]}, {"users": [responder]}, name="Checkout")
    login(page, live_server, responder)
    page.locator("header nav").get_by_role("link", name="On call", exact=True).click()
    page.get_by_role("link", name="Checkout").click()
    expect(page.locator("#policy-steps .step")).to_have_count(2)
    expect(page.locator("#policy-steps")).to_contain_text("Nights has nobody on call from")
    expect(page.locator("#policy-steps")).to_contain_text(
        "responder has no working contact method.")
    assert policy.steps.count() == 2


def test_escalate_by_hand_pages_the_next_step_on_the_timeline(live_server, page, responder, ann):
    bob = make_user("bob", "Responders")
    add_contact(bob)
    policy = make_policy({"users": [ann], "delay": 30}, {"users": [bob]})
    incident = declare(title="DB failover", escalation_policy=policy)  # step 1 paged at once
    login(page, live_server, responder)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    timeline = page.locator("#timeline-entries")
    expect(timeline).to_contain_text("Step 1 paging ann.")
    expect(timeline).not_to_contain_text("Step 2 paging bob.")
    page.locator("#escalate-button").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.pk}/"))
    expect(timeline.locator("li.kind-escalation", has_text="Escalated by hand")).to_contain_text(
        "responder")
    expect(timeline.locator("li.kind-escalation", has_text="Step 2 paging bob.")).to_contain_text(
        "(step 2, round 1)")
    assert Page.objects.filter(incident=incident, user=bob, step=1).exists()
