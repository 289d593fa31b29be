"""A person who keeps mistyping a password is told, beside the login form, that sign-ins are
locked and for how long, and the right password no longer gets in."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def submit(page, username, password):
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_wrong_passwords_up_to_the_limit_show_the_lockout_beside_the_form(
    live_server, page, responder, console
):
    console.allow_status(429)  # the locked-out answers are 429s, as intended
    page.goto(f"{live_server.url}/accounts/login/")
    errors = page.locator("form .errorlist.nonfield")
    for _ in range(settings.RELAY_LOGIN_FAILURE_LIMIT - 1):
        submit(page, "responder", "wrong")
        expect(errors).to_contain_text("enter a correct username and password")
    submit(page, "responder", "wrong")
    message = (f"Too many failed sign-ins for this account or address; try again in "
               f"{settings.RELAY_LOGIN_COOLOFF_MINUTES} minutes")
    expect(errors).to_contain_text(message)

    submit(page, "responder", "pw-responder")
    expect(errors).to_contain_text(message)
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.locator("#id_password")).to_be_visible()
