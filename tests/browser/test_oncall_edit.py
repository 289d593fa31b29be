"""Editing on-call configuration in the browser: a responder reorders a rotation, previews,
saves, and the next incident pages the person now on call."""

from datetime import date

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Page
from oncall import schedules
from tests.browser.conftest import login
from tests.conftest import declare, make_team, make_user
from tests.oncall.conftest import add_contact, add_layer, make_policy, make_schedule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_reordered_rotation_pages_the_new_person(live_server, open_page, responder, service,
                                                 javascript):
    ann, bob = make_user("ann", "Responders"), make_user("bob", "Responders")
    add_contact(ann)
    add_contact(bob)
    team = make_team("Checkout", responder, ann, bob)
    schedule = make_schedule(name="Checkout primary", team=team)
    add_layer(schedule, ann, bob, unit="days", start=date(2026, 1, 1))
    service.escalation_policy = make_policy({"schedules": [schedule]}, name="Checkout")
    service.save()
    before = schedules.who_is_on_call(schedule, timezone.now())
    after = bob if before == ann else ann
    page = open_page(javascript=javascript)
    login(page, live_server, responder)
    page.goto(f"{live_server.url}/oncall/schedules/{schedule.pk}/")
    expect(page.locator("#on-call-now")).to_have_text(before.username)
    page.locator("#edit-schedule").click()
    participants = page.locator("#layer-0-participants .who")
    expect(participants).to_have_text(["ann", "bob"])
    page.get_by_role("button", name="Move bob up").click()
    expect(participants).to_have_text(["bob", "ann"])
    page.locator("#preview-button").click()
    expect(page.locator("#preview-on-call")).to_have_text(after.username)
    expect(page.locator("#schedule-preview #row-final .bar").first).to_have_text(after.username)
    assert schedules.who_is_on_call(schedule, timezone.now()) == before  # nothing saved yet
    page.locator("#save-button").click()
    expect(page).to_have_url(f"{live_server.url}/oncall/schedules/{schedule.pk}/")
    expect(page.locator("#on-call-now")).to_have_text(after.username)
    incident = declare(title="Checkout 502s", services=[service])
    paged = {p.user.username for p in Page.objects.filter(incident=incident, purpose="page")}
    assert paged == {after.username}
