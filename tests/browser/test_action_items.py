"""Action items in a real browser: a writer adds an item with an owner on the post-mortem's items
section (a blank title is refused beside its field first), the owner signs in, finds it on
"My action items" and marks it done. Both pages fit a phone."""

import pytest
from playwright.sync_api import expect

from postmortems.models import ActionItem, Postmortem
from tests.browser.conftest import login
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate(
        "document.documentElement.clientWidth")


def test_writer_adds_an_item_and_its_owner_marks_it_done(live_server, open_page, console,
                                                         commander, incident):
    console.allow_status(400)
    owner = make_user("olivia", "Responders")
    Postmortem.objects.create(incident=incident)
    writer = open_page()
    login(writer, live_server, commander)
    writer.goto(f"{live_server.url}/incidents/{incident.pk}/postmortem/items/")
    section = writer.locator("#action-items")
    expect(section).to_contain_text("No action items yet.")

    form = section.locator("#new-action-item")
    form.get_by_label("Owner").select_option("olivia")
    form.get_by_label("Kind").select_option("detect")
    form.get_by_label("Title").fill("   ")  # passes the browser's check, not the server's
    form.get_by_role("button", name="Add action item").click()
    expect(form.locator(".errorlist")).to_contain_text("This field is required.")
    assert not ActionItem.objects.exists()
    form.get_by_label("Title").fill("Alert on the 502 rate of checkout")
    form.get_by_label("Ticket URL").fill("https://tracker.example.test/OPS-42")
    form.get_by_role("button", name="Add action item").click()
    row = section.locator(".action-item")
    expect(row).to_contain_text("Alert on the 502 rate of checkout")
    expect(row.locator(".item-owner")).to_have_text("olivia")
    item = ActionItem.objects.get()
    assert (item.owner, item.kind, item.ticket_url) == (owner, "detect",
                                                        "https://tracker.example.test/OPS-42")
    writer.set_viewport_size({"width": 390, "height": 844})
    _no_sideways_scroll(writer)

    mine = open_page()
    login(mine, live_server, owner)
    mine.goto(f"{live_server.url}/action-items/")
    expect(mine.locator("h1")).to_have_text("My action items")
    open_row = mine.locator(f"#open-items #action-item-{item.pk}")
    expect(open_row).to_contain_text("Alert on the 502 rate of checkout")
    expect(open_row).to_contain_text(incident.reference)
    open_row.get_by_role("button", name="Mark done").click()
    expect(mine.locator(".messages")).to_contain_text("is done")
    expect(mine.locator(f"#finished-items #action-item-{item.pk}")).to_contain_text("Done")
    expect(mine.locator("#open-items")).to_contain_text("Nothing open for you.")
    item.refresh_from_db()
    assert (item.status, item.finished_by) == ("done", owner)
    mine.set_viewport_size({"width": 390, "height": 844})
    _no_sideways_scroll(mine)

    writer.reload()
    expect(writer.locator("#follow-up")).to_contain_text("1 item, 0 open")
    expect(writer.locator(".action-item .item-status")).to_have_text("Done")
