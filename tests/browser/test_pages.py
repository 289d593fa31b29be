"""Every main page of the portal, on the demo data, at a desk's width and a phone's: a full-page
screenshot of each is kept as an artifact, and each page must show no console error, must not
scroll sideways on a phone, must have no serious or critical axe-core finding, and on a phone its
buttons and form fields must be big enough to tap.

To check a new page, add one line to PAGES. One test walks them all: seed_demo takes about 15 s,
too long to repeat per page, and one report listing every page's problems is what a fix needs."""

import os
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from incidents.management.commands.seed_demo import PEOPLE
from incidents.models import Incident, PagePurpose, Status
from incidents.models import Page as PageRow
from incidents.paging import links
from oncall.models import EscalationPolicy, Schedule
from postmortems.models import Postmortem
from tests.browser.conftest import login
from tests.conftest import ensure_role_groups

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("RELAY_ARTIFACTS_DIR") or Path(__file__).parent / "artifacts")
DESK, PHONE = 1400, 390
TOUCH_PX = 44
BLOCKING_IMPACTS = ("serious", "critical")


def _incident_with_history():
    return f"/incidents/{Incident.objects.get(title__startswith='Primary database CPU').pk}/"


def _ack_link(page=None):
    """The signed acknowledge link a page email carries (by default of a triggered incident)."""
    page = page or PageRow.objects.filter(
        purpose=PagePurpose.PAGE, incident__status=Status.TRIGGERED).first()
    return reverse("paging:page-action", args=[links.token_for(page, "acknowledge"),
                                                "acknowledge"])


def _published_postmortem():
    postmortem = Postmortem.objects.filter(state="published").first()
    return f"/incidents/{postmortem.incident_id}/postmortem/"


@dataclass(frozen=True)
class Visit:
    name: str
    path: str | Callable[[], str]  # a callable runs after the demo data exists
    user: str | None  # a demo user (seed_demo.PEOPLE), None for a visitor who is not logged in
    # A widget we ship but do not write (Swagger UI): left out of the axe and touch-target checks.
    third_party: str | None = None

    def url(self) -> str:
        return self.path() if callable(self.path) else self.path


PAGES = [
    Visit("dashboard", "/", "commander"),
    Visit("declare", "/incidents/declare/", "commander"),
    Visit("incident", _incident_with_history, "commander"),
    Visit("my-oncall", "/oncall/me/", "responder"),
    Visit("page-acknowledge", _ack_link, None),
    Visit("oncall", "/oncall/", "commander"),
    Visit("schedule", lambda: f"/oncall/schedules/{Schedule.objects.first().pk}/", "commander"),
    Visit("policy", lambda: f"/oncall/policies/{EscalationPolicy.objects.first().pk}/",
          "commander"),
    Visit("schedule-edit", lambda: f"/oncall/schedules/{Schedule.objects.first().pk}/edit/",
          "admin"),
    Visit("policy-edit", lambda: f"/oncall/policies/{EscalationPolicy.objects.first().pk}/edit/",
          "admin"),
    Visit("settings", "/accounts/settings/", "responder"),
    Visit("services", "/services/", "commander"),
    Visit("service", "/services/checkout-api/", "commander"),
    Visit("rules", "/rules/", "admin"),
    Visit("webhooks", "/webhooks/", "admin"),
    Visit("customers", "/customers/", "csm"),
    Visit("sla", "/sla/", "csm"),
    Visit("status-manage", "/status/manage/", "csm"),
    Visit("status-public", "/status/", None),
    Visit("postmortems", "/postmortems/", "commander"),
    Visit("postmortem", _published_postmortem, "commander"),
    Visit("action-items", "/action-items/", "responder"),
    Visit("insights", "/insights/", "commander"),
    Visit("audit-log", "/audit/", "auditor"),
    Visit("incident-record", lambda: _incident_with_history() + "verify/", "auditor"),
    Visit("evidence", lambda: _incident_with_history() + "evidence/", "auditor"),
    Visit("api-docs", "/api/docs/", "commander", third_party="#swagger-ui"),
    Visit("login", "/accounts/login/", None),
]

# Everything below runs in the page. Elements wider than the viewport, outermost first: a child
# of an element that already sticks out is not listed again.
STICKING_OUT_JS = """() => {
  const limit = window.innerWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + [...el.classList].map(c => '.' + c).join('');
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= limit + 0.5) continue;
    if (out.some(o => o.contains(el))) continue;
    out.push(el);
  }
  return out.slice(0, 12).map(el => `${name(el)} (right edge ${Math.round(
    el.getBoundingClientRect().right)} px)`);
}"""

# Visible controls a thumb has to hit; checkboxes and radios are hit through their label.
SMALL_TARGETS_JS = """([minimum, skip]) => {
  const selector = 'button, a.button, select, textarea, '
    + 'input:not([type=hidden]):not([type=checkbox]):not([type=radio])';
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.name ? `[name=${el.name}]` : '') + [...el.classList].map(c => '.' + c).join('');
  return [...document.querySelectorAll(selector)]
    .filter(el => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
    .filter(el => !(skip && el.closest(skip)))
    .filter(el => el.getBoundingClientRect().height < minimum)
    .slice(0, 12)
    .map(el => [name(el), (el.innerText || el.value || '').trim().split('\\n')[0].slice(0, 30),
                Math.round(el.getBoundingClientRect().height)])
    .map(([what, text, high]) => `${what} "${text}" ${high} px high`);
}"""

AXE_RUN_JS = """async ([skip]) => {
  const context = skip ? {exclude: [skip]} : document;
  const result = await axe.run(context, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 6).map(n => n.target.join(' ')),
    why: (v.nodes[0].failureSummary || '').split('\\n').slice(1, 2).join('').trim()}));
}"""


@pytest.fixture
def demo(db):
    ensure_role_groups()  # the flush after an earlier browser test removed them
    call_command("seed_demo", "--force", stdout=StringIO())


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE.relative_to(ROOT)}: run `make test`, or "
                    "`npm install --no-save --prefix .cache/npm axe-core@4`.", pytrace=False)
    return AXE.read_text()


def axe_findings(page: Page, axe_source: str, skip: str | None) -> list[str]:
    # Evaluated rather than added as a <script>: the CSP admits only scripts with the nonce.
    page.evaluate(axe_source)
    return [f"axe {v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['targets'])}: {v['why']}"
            for v in page.evaluate(AXE_RUN_JS, [skip]) if v["impact"] in BLOCKING_IMPACTS]


def log_in_as(page: Page, live_server, username: str) -> None:
    login(page, live_server, User.objects.get(username=username), PEOPLE[username][0])


def check_width(page: Page, visit: Visit, width: int, axe_source: str) -> list[str]:
    page.set_viewport_size({"width": width, "height": 900 if width == DESK else 844})
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{visit.name}-{width}.png"
    shot.unlink(missing_ok=True)  # so the check below cannot pass on an earlier run's file
    page.screenshot(path=shot, full_page=True)
    problems = axe_findings(page, axe_source, visit.third_party)
    if width == PHONE:
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > page.evaluate("window.innerWidth"):
            problems.append(f"scrolls sideways: {wide} px wide; sticking out: "
                            + "; ".join(page.evaluate(STICKING_OUT_JS)))
        problems += [f"smaller than {TOUCH_PX} px: {target}"
                     for target in page.evaluate(SMALL_TARGETS_JS, [TOUCH_PX, visit.third_party])]
    return [f"at {width} px: {problem}" for problem in problems]


def check_visit(page: Page, live_server, visit: Visit, axe_source: str) -> list[str]:
    response = page.goto(live_server.url + visit.url())
    if response.status != 200:
        return [f"HTTP {response.status} for {visit.url()}"]
    return [problem for width in (DESK, PHONE)
            for problem in check_width(page, visit, width, axe_source)]


def test_every_page_is_accessible_and_fits_a_phone(axe_source, live_server, open_page, console,
                                                   demo):
    tabs, problems = {}, []
    for visit in PAGES:
        if visit.user not in tabs:
            tabs[visit.user] = open_page()
            if visit.user:
                log_in_as(tabs[visit.user], live_server, visit.user)
        seen = len(console.problems)
        found = check_visit(tabs[visit.user], live_server, visit, axe_source)
        found += console.problems[seen:]
        problems += [f"{visit.name} ({visit.user or 'not logged in'}) {problem}"
                     for problem in found]
    assert {path.name for path in ARTIFACTS.glob("*.png")} >= {
        f"{visit.name}-{width}.png" for visit in PAGES for width in (DESK, PHONE)}
    console.problems.clear()  # reported below with the page they came from, not a second time
    assert not problems, "\n".join(problems)


@pytest.fixture
def paged(incident, responder):
    """A page to the responder of a triggered incident, as an escalation step writes it."""
    return PageRow.objects.create(incident=incident, user=responder, purpose=PagePurpose.PAGE,
                                  step=0, round=0, channel="email", address=responder.email)


def test_acknowledging_from_a_page_link_on_a_phone_takes_one_tap(live_server, page, paged):
    page.set_viewport_size({"width": PHONE, "height": 844})
    page.goto(live_server.url + _ack_link(paged))
    button = page.get_by_role("button", name=f"Acknowledge {paged.incident.reference}")
    box = button.bounding_box()
    # Big, and in reach without scrolling: the first thing a thumb finds.
    assert box["height"] >= TOUCH_PX and box["width"] >= PHONE * 0.7, box
    assert box["y"] + box["height"] <= 844, box
    assert page.locator("main button, main input:not([type=hidden])").count() == 1
    button.click()
    expect(page.locator("#page-action-done")).to_contain_text(
        f"{paged.incident.reference} is acknowledged")
    paged.incident.refresh_from_db()
    assert paged.incident.status == Status.ACKNOWLEDGED


def test_buttons_and_fields_are_44_px_high_on_a_phone(live_server, page, paged, responder):
    page.set_viewport_size({"width": PHONE, "height": 844})
    page.goto(live_server.url + "/accounts/login/")
    heights = {"username": page.locator("#id_username").bounding_box()["height"],
               "log in": page.get_by_role("button", name="Log in").bounding_box()["height"]}
    login(page, live_server, responder)
    page.goto(live_server.url + "/oncall/me/")
    heights["acknowledge on My on-call"] = page.locator(
        "#my-pages .ack-button").bounding_box()["height"]
    heights["log out"] = page.get_by_role("button", name="Log out").bounding_box()["height"]
    assert {name: h for name, h in heights.items() if h < TOUCH_PX} == {}
