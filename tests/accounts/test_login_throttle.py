"""Sign-in throttling: an account and an address each lock after the failure limit (either one
is enough), on the portal and the admin login, until the cool-off ends or an administrator
unlocks them."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from accounts.models import ApiToken

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
LIMIT = settings.RELAY_LOGIN_FAILURE_LIMIT
MESSAGE = (f"Too many failed sign-ins for this account or address; try again in "
           f"{settings.RELAY_LOGIN_COOLOFF_MINUTES} minutes or ask an administrator to unlock it.")


def sign_in(username, password, address="192.0.2.1", url=LOGIN):
    return Client(REMOTE_ADDR=address).post(url, {"username": username, "password": password})


def fail(username, times, address=None, url=LOGIN):
    for n in range(times):
        sign_in(username, "wrong", address or f"198.51.100.{n + 1}", url)


def assert_locked(response):
    assert response.status_code == 429
    assert MESSAGE in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_right_password_signs_in_below_the_limit(responder):
    fail("responder", LIMIT - 1)
    assert sign_in("responder", "pw-responder").status_code == 302


def test_failures_from_many_addresses_lock_the_account(responder):
    fail("responder", LIMIT)
    assert_locked(sign_in("responder", "pw-responder", address="203.0.113.9"))


def test_locked_page_is_our_login_form_with_the_message(responder):
    fail("responder", LIMIT)
    response = sign_in("responder", "pw-responder", address="203.0.113.9")
    assert [t.name for t in response.templates][0] == "registration/login.html"
    assert 'id="id_password"' in response.content.decode()
    assert "enter a correct username" not in response.content.decode()


def test_failures_for_many_accounts_lock_the_address(responder):
    for n in range(LIMIT):
        sign_in(f"guess{n}", "wrong", address="192.0.2.50")
    assert_locked(sign_in("responder", "pw-responder", address="192.0.2.50"))
    # The account itself did nothing wrong: from elsewhere it signs in.
    assert sign_in("responder", "pw-responder", address="192.0.2.51").status_code == 302


def test_admin_login_is_throttled_too(admin_user):
    fail("admin", LIMIT, url=ADMIN_LOGIN)
    response = sign_in("admin", "pw-admin", address="203.0.113.9", url=ADMIN_LOGIN)
    assert_locked(response)
    assert "admin/login.html" in [t.name for t in response.templates]


def test_lock_is_shared_between_portal_and_admin_logins(admin_user):
    fail("admin", LIMIT, url=ADMIN_LOGIN)
    assert_locked(sign_in("admin", "pw-admin", address="203.0.113.9"))


@pytest.mark.parametrize("command", [("axes_reset_username", "responder"), ("axes_reset",)])
def test_reset_command_unlocks(responder, command):
    fail("responder", LIMIT)
    call_command(*command)
    assert sign_in("responder", "pw-responder").status_code == 302


def test_deleting_the_attempts_in_the_admin_unlocks(responder):
    fail("responder", LIMIT)
    boss = User.objects.create_superuser("boss", "boss@example.test", "pw-boss")
    admin = Client(REMOTE_ADDR="192.0.2.200")
    admin.force_login(boss)
    attempts = list(AccessAttempt.objects.filter(username="responder").values_list("pk", flat=True))
    assert attempts
    response = admin.post("/admin/axes/accessattempt/", {
        "action": "delete_selected", "_selected_action": attempts, "post": "yes"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="responder").exists()
    assert sign_in("responder", "pw-responder").status_code == 302


def test_successful_sign_in_resets_the_count(responder):
    fail("responder", LIMIT - 1, address="192.0.2.7")
    assert sign_in("responder", "pw-responder", address="192.0.2.7").status_code == 302
    fail("responder", LIMIT - 1, address="192.0.2.7")
    assert sign_in("responder", "pw-responder", address="192.0.2.7").status_code == 302


def test_api_token_is_not_throttled_by_a_locked_account(responder):
    fail("responder", LIMIT)
    _, raw = ApiToken.issue(responder, "ci")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/incidents/")
    assert response.status_code == 200


def test_behind_trusted_proxies_the_forwarded_client_address_is_locked(responder, settings):
    settings.RELAY_TRUSTED_PROXIES = 1
    proxy = "10.0.0.5"

    def through_proxy(username, client_address, claimed="203.0.113.9"):
        # The proxy appends the address it saw; what stands left of it the client wrote.
        forwarded = f"{claimed}, {client_address}"
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded) \
            .post(LOGIN, {"username": username, "password": "wrong"})

    for n in range(LIMIT):  # many accounts from one client, which claims a new address each time
        through_proxy(f"ghost{n}", "192.0.2.50", claimed=f"203.0.113.{n}")
    other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="192.0.2.51")
    response = other.post(LOGIN, {"username": "responder", "password": "pw-responder"})
    assert response.status_code == 302  # another client behind the same proxy is not locked
    locked = through_proxy("responder", "192.0.2.50")
    assert_locked(locked)


def test_without_trusted_proxies_a_forged_forwarded_header_changes_nothing(responder):
    for n in range(LIMIT):
        Client(REMOTE_ADDR="192.0.2.60", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").post(
            LOGIN, {"username": f"ghost{n}", "password": "wrong"})
    assert_locked(sign_in("responder", "pw-responder", address="192.0.2.60"))


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
@pytest.mark.parametrize("username", ["a%00b", "a%ED%A0%80b", "a" * 5000])
def test_hostile_usernames_get_the_form_back_not_a_500(db, url, username):
    """NUL, invalid UTF-8 and an overlong name reach the throttle's lookups too (PostgreSQL
    refuses NUL in text): the form answers with its error, nothing is stored."""
    response = Client(REMOTE_ADDR="192.0.2.9").post(
        url, f"username={username}&password=x%00",
        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not AccessAttempt.objects.exists()
