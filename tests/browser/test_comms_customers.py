"""A CSM reports an Enterprise customer's issue in a real browser: the suggested severity follows
the ticked customers, the incident opens with the customer in its panel, and the owning team's
lead gets an email over real SMTP. The report form and the customer page fit a phone."""

import re

import pytest
from playwright.sync_api import expect

from comms.models import TierPolicy
from incidents import services
from incidents.models import CustomerTier, Incident, Page, PagePurpose, Service
from incidents.paging import delivery
from tests.browser.conftest import login
from tests.comms.customers.conftest import make_customer
from tests.conftest import make_team, make_user
from tests.oncall.conftest import add_contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    csm = make_user("csm", "Communications")
    lead = make_user("lena", "Responders")
    add_contact(lead)
    team = make_team("Identity")
    team.lead = lead
    team.save()
    service = Service.objects.create(name="Single sign-on", slug="sso", team=team)
    enterprise = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    free = CustomerTier.objects.create(name="Free", slug="free", rank=3)
    TierPolicy.objects.create(tier=enterprise, suggested_severity="P2")
    TierPolicy.objects.create(tier=free, suggested_severity="P4")
    acme = make_customer("Acme Corp", enterprise, "crm-0001", csm=csm,
                         contacts=[("Dana Reyes", "dana.reyes@acme.example.com", "CTO")],
                         targets=[{"severity": "P1", "response_minutes": 10,
                                   "resolution_minutes": 120}])
    make_customer("Hooli Labs", free, "crm-0005")
    return {"csm": csm, "lead": lead, "service": service, "acme": acme}


def test_csm_reports_enterprise_issue_and_lead_hears_over_smtp(live_server, page, world,
                                                               smtp_server):
    login(page, live_server, world["csm"])
    page.get_by_role("link", name="Report an issue").click()
    expect(page).to_have_url(f"{live_server.url}/customers/report/")
    expect(page.locator("#suggested-severity")).to_have_text("P3")

    page.get_by_label("Title").fill("Acme cannot sign in")
    page.get_by_label("Affected service").select_option(label="Single sign-on")
    page.get_by_label("Hooli Labs (Free)").check()
    expect(page.locator("#suggested-severity")).to_have_text("P4")
    page.locator("#report-customer-choices").get_by_label("Acme Corp (Enterprise)").check()
    expect(page.locator("#suggested-severity")).to_have_text("P2")
    expect(page.locator("#suggested-why")).to_have_text("Suggested P2: Acme Corp is Enterprise")
    page.get_by_label("Hooli Labs (Free)").uncheck()
    expect(page.locator("#suggested-why")).to_have_text("Suggested P2: Acme Corp is Enterprise")
    expect(page.locator("#paging-warning")).not_to_contain_text("Nobody will be paged")
    page.get_by_label("What the customer sees").fill("SSO login loops back to the login page.")
    page.get_by_role("button", name="Report and open an incident").click()

    expect(page).to_have_url(re.compile(r"/incidents/\d+/$"))
    incident = Incident.objects.get(title="Acme cannot sign in")
    expect(page.locator("#incident-severity")).to_have_text("P2 · Major")
    panel = page.locator("#customers-panel")
    expect(panel.locator("#affected-customers")).to_contain_text("Acme Corp")
    expect(panel).to_contain_text("Enterprise")
    panel.get_by_role("link", name="Acme Corp").click()
    expect(page.locator("#customer-incidents")).to_contain_text("Acme cannot sign in")

    [notice] = Page.objects.filter(incident=incident, purpose=PagePurpose.NOTICE)
    assert notice.user == world["lead"]
    delivery.deliver(notice.pk)
    [mail] = smtp_server
    assert mail["To"] == world["lead"].email
    assert mail["Subject"] == (f"[Relay] {incident.reference} P2 declared on Single sign-on: "
                               "Acme cannot sign in")


def test_report_form_and_customer_page_fit_a_phone(live_server, page, world):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server, world["csm"])
    for path in ("/customers/report/", f"/customers/{world['acme'].pk}/", "/customers/",
                 f"/customers/{world['acme'].pk}/edit/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("main h1")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways: {width}px"


def test_silent_service_warns_on_report_form(live_server, page, world):
    Service.objects.create(name="Legacy reports", slug="legacy", team=make_team("Reporting"))
    login(page, live_server, world["csm"])
    page.goto(f"{live_server.url}/customers/report/")
    page.get_by_label("Affected service").select_option(label="Legacy reports")
    expect(page.locator("#paging-warning")).to_contain_text(
        "Nobody will be paged: Legacy reports has no escalation policy and no team lead.")


def test_csm_changes_incident_customers_in_the_panel(live_server, page, world):
    commander = make_user("commander", "Responders")
    incident = services.declare(title="SSO slow", severity="P3", by=commander,
                                services=[world["service"]])
    login(page, live_server, world["csm"])
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    panel = page.locator("#customers-panel")
    expect(panel).to_contain_text("No customer named yet.")
    panel.get_by_text("Change affected customers").click()
    panel.get_by_label("Filter customers").fill("acme")
    expect(panel.get_by_label("Hooli Labs (Free)")).to_be_hidden()
    panel.get_by_label("Acme Corp (Enterprise)").check()
    panel.get_by_role("button", name="Save customers").click()
    expect(page.locator("#affected-customers")).to_contain_text("Acme Corp")
    expect(page.locator("#timeline-entries")).to_contain_text(
        "set the affected customers to Acme Corp")
    expect(page.locator("#incident-header")).to_contain_text("Enterprise")
    assert list(incident.customers.all()) == [world["acme"]]
