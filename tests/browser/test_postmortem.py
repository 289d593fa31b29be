"""From resolving an incident to a published post-mortem in a real browser: the draft appears,
a section is edited, an action item added, a second person reviews and approves, and the
published document is read-only."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Incident
from postmortems import drafting
from postmortems.models import ActionItem, Postmortem, Revision, State
from tests.browser.conftest import login
from tests.conftest import declare

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_action_item(page, owner) -> None:
    """Through the post-mortem's action-items section."""
    form = page.locator("form[action$='/postmortem/items/new/']")
    if not form.locator("[name=title]").is_visible():
        page.locator("#action-items summary", has_text="Add an action item").click()
    form.locator("[name=title]").fill("Alert 14 days before a certificate expires")
    form.locator("[name=owner]").select_option(label=owner.username)
    form.locator("[name=due_on]").fill((timezone.localdate() + timedelta(days=14)).isoformat())
    form.locator("[name=priority]").select_option("high")
    form.locator("[name=kind]").select_option("detect")
    form.locator("button[type=submit]").click()
    expect(page.locator("#action-items")).to_contain_text("Alert 14 days before a certificate")


def test_from_resolution_to_published_post_mortem(live_server, open_page, commander, responder,
                                                  service):
    incident = declare(by=commander, title="Card payments declined", services=[service])
    page = open_page()
    login(page, live_server, commander)
    detail = f"{live_server.url}/incidents/{incident.pk}/"
    page.goto(detail)
    page.locator("#id_status").select_option("resolved")
    page.locator("#transition-button").click()
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    # The resolution created the post-mortem; its panel reloads. Let the page's requests settle
    # before the test writes (SQLite's shared in-memory database locks a table per writer).
    expect(page.locator("#postmortem-panel #postmortem-state")).to_have_text("Draft")
    page.wait_for_load_state("networkidle")

    # The drafting timer's tick, run now rather than waited for.
    postmortem = Postmortem.objects.get(incident=incident)
    drafting.draft_due(postmortem.pk, timezone.now())
    page.goto(detail)
    panel = page.locator("#postmortem-panel")
    expect(panel.locator("#postmortem-state")).to_have_text("Draft")
    panel.locator("#open-postmortem").click()
    expect(page.locator("#facts")).to_contain_text("Key times")
    expect(page.locator("#section-summary")).to_contain_text(f"INC-{incident.pk} (P2) affected")

    page.locator("#id_pm_learnings").fill("Certificates need an **expiry** alert.")
    page.locator("#save-sections").click()
    expect(page.locator("#section-learnings strong")).to_have_text("expiry")

    add_action_item(page, commander)

    page.locator("#submit-form").get_by_label("responder").check()
    page.locator("#submit-button").click()
    expect(page.locator("#postmortem-state")).to_have_text("In review")
    expect(page.locator("#reviewers")).to_contain_text("Review requested")

    reviewer_page = open_page()
    login(reviewer_page, live_server, responder)
    reviewer_page.goto(f"{live_server.url}/incidents/{incident.pk}/postmortem/")
    reviewer_page.locator("#verdict-form").get_by_label("Approve").check()
    reviewer_page.locator("#verdict-button").click()
    expect(reviewer_page.locator("#reviewers")).to_contain_text("Approved")

    page.reload()
    page.locator("#publish-button").click()
    expect(page.locator("#postmortem-state")).to_have_text("Published")
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator("#sections-form")).to_have_count(0)
    expect(page.locator("#revisions")).to_contain_text("Revision 1")
    expect(page.locator("#section-learnings")).to_contain_text("Certificates need an expiry")

    page.goto(detail)
    expect(page.locator("#postmortem-panel #postmortem-state")).to_have_text("Published")
    postmortem.refresh_from_db()
    assert postmortem.state == State.PUBLISHED
    revision = Revision.objects.get(postmortem=postmortem)
    assert "Certificates need an **expiry** alert." in revision.markdown
    assert "Alert 14 days before a certificate expires" in revision.markdown
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    item = ActionItem.objects.get(postmortem=postmortem)
    assert (item.owner, item.priority, item.kind) == (commander, "high", "detect")
