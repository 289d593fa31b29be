"""Single sign-on in the browser, against a real OpenID Connect provider on loopback: the login
page's "Sign in with …" goes to the provider and back to the dashboard as the mapped person; a
group taken away at the provider is gone at the next sign-in; logging out ends the provider's
session too; with LOCAL_PASSWORDS off the page offers only the provider."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.conftest import ensure_role_groups, make_team
from tests.oidc_idp import sso_settings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_at_provider(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Sign in with Corp IdP").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"idp-{username}")
    page.get_by_role("button", name="Sign in to the IdP").click()


def roles(user):
    return sorted(user.groups.values_list("name", flat=True))


@pytest.fixture
def payments(sso):
    ensure_role_groups()
    return make_team("Payments")


def test_sign_in_with_provider_lands_on_dashboard_as_mapped_person(live_server, page, sso,
                                                                   payments):
    sso.set_people(rosa={"groups": ["sre"]})
    sign_in_at_provider(page, live_server, "rosa")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("header.topbar .whoami")).to_contain_text("rosa")
    rosa = User.objects.get(username="rosa")
    assert roles(rosa) == ["Responders", "team:payments"]
    # A responder may declare: the dashboard shows the form to.
    expect(page.get_by_role("button", name="Declare")).to_be_visible()


def test_group_removed_at_provider_is_gone_after_logout_and_sign_in(live_server, page, sso,
                                                                   payments):
    sso.set_people(sam={"groups": ["sre", "audit"]})
    sign_in_at_provider(page, live_server, "sam")
    expect(page).to_have_url(f"{live_server.url}/")
    assert roles(User.objects.get(username="sam")) == ["Auditors", "Responders",
                                                       "team:payments"]

    page.get_by_role("button", name="Log out").click()
    # Signed out of the provider too: the next sign-in asks for the password again.
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    sso.set_people(sam={"groups": ["audit"]})
    sign_in_at_provider(page, live_server, "sam")
    expect(page).to_have_url(f"{live_server.url}/")
    assert roles(User.objects.get(username="sam")) == ["Auditors"]


def test_unmapped_person_sees_why_they_are_refused(live_server, page, sso, console):
    console.allow_status(403)
    sso.set_people(tom={"groups": ["marketing"]})
    sign_in_at_provider(page, live_server, "tom")
    expect(page.locator("#sso-failure")).to_contain_text(
        "none of your groups there gives a role in Relay (your groups: marketing)")
    page.get_by_role("link", name="Back to the login page").click()
    expect(page.get_by_role("link", name="Sign in with Corp IdP")).to_be_visible()


def test_passwords_off_page_offers_only_the_provider(live_server, page, sso, settings, payments):
    sso_settings(settings, sso.issuer, local_passwords=False)
    sso.set_people(uma={"groups": ["sre"]})
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("#id_password")).to_have_count(0)
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)
    sign_in_at_provider(page, live_server, "uma")
    expect(page).to_have_url(f"{live_server.url}/")
