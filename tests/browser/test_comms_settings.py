"""Customer-communications settings in a real browser: an admin changes a tier's SLA targets
from the SLA page, and a CSM edits a phase template, with a bad placeholder refused beside its
field first. Both pages fit a phone."""

import pytest
from playwright.sync_api import expect

from comms.models import MessageTemplate, SlaTarget, TierPolicy
from incidents.models import CustomerTier
from tests.browser.conftest import login
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate(
        "document.documentElement.clientWidth")


def test_admin_changes_a_tiers_targets_from_the_sla_page(live_server, page):
    admin = make_user("ada", "Admins", is_staff=True)
    tier = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    TierPolicy.objects.create(tier=tier)
    SlaTarget.objects.create(tier=tier, severity="P2", response_minutes=30,
                             resolution_minutes=480)
    login(page, live_server, admin)
    page.get_by_role("link", name="SLA", exact=True).click()
    page.get_by_role("link", name="SLA settings").click()
    page.locator("h2", has_text="Enterprise").get_by_role("link", name="Edit").click()
    expect(page.locator("h1")).to_have_text("Enterprise")
    page.locator("#id_P2_response_minutes").fill("15")
    page.locator("#id_P2_resolution_minutes").fill("240")
    page.get_by_label("Suggested severity").select_option("P2")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("SLA settings")
    target = SlaTarget.objects.get(tier=tier, severity="P2")
    assert (target.response_minutes, target.resolution_minutes) == (15, 240)
    assert TierPolicy.objects.get(tier=tier).suggested_severity == "P2"
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/sla/settings/tiers/enterprise/")
    _no_sideways_scroll(page)


def test_csm_edits_a_phase_template_and_a_bad_placeholder_is_refused(live_server, page,
                                                                      console):
    console.allow_status(400)
    csm = make_user("casey", "Communications")
    login(page, live_server, csm)
    page.goto(f"{live_server.url}/messages/templates/")
    section = page.locator("#template-identified")
    section.get_by_label("Subject").fill("Identified: {services} {nonsense}")
    section.get_by_role("button", name="Save the identified template").click()
    section = page.locator("#template-identified")
    expect(section.locator(".errorlist")).to_contain_text("nonsense")
    assert not MessageTemplate.objects.exists()
    section.get_by_label("Subject").fill("Identified: the cause of the {services} disruption")
    section.get_by_role("button", name="Save the identified template").click()
    expect(page.locator("#template-identified").get_by_label("Subject")).to_have_value(
        "Identified: the cause of the {services} disruption")
    assert MessageTemplate.objects.get(phase="identified").subject == (
        "Identified: the cause of the {services} disruption")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/messages/templates/")
    _no_sideways_scroll(page)
