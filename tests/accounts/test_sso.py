"""Single sign-on against a real OpenID Connect provider on loopback (tests/oidc_idp.py): who a
sign-in is, the roles and teams the provider's groups grant, refusals, and LOCAL_PASSWORDS=off."""

import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User

from accounts import sso as relay_sso
from accounts.models import ApiToken, Profile
from incidents.models import AuditEntry
from tests.conftest import make_team, make_user
from tests.oidc_idp import idp_sign_in, sso_settings
from tests.receivers import free_port


@pytest.fixture
def teams(db):
    return make_team("Payments"), make_team("Search")


def roles(user):
    return sorted(user.groups.exclude(name__startswith="team:").values_list("name", flat=True))


def team_names(user):
    return sorted(user.groups.filter(team__isnull=False).values_list("team__name", flat=True))


def sign_in(client, username, **kwargs):
    return client.get(idp_sign_in(client, username, **kwargs))


def test_first_sign_in_creates_the_person_with_mapped_role_and_team(client, sso, teams):
    sso.set_people(alice={"groups": ["sre", "unrelated"]})
    response = sign_in(client, "alice")
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="alice")
    assert int(client.session["_auth_user_id"]) == user.pk
    assert roles(user) == ["Responders"] and team_names(user) == ["Payments"]
    assert user.email == "alice@corp.example.test" and not user.has_usable_password()
    assert not user.is_staff and not user.is_superuser
    profile = Profile.objects.get(user=user)
    assert (profile.sso_issuer, profile.sso_subject) == (sso.issuer, "sub-alice")
    assert client.get("/").status_code == 200


def test_group_removed_at_the_provider_is_removed_at_next_sign_in(client, sso, teams):
    sso.set_people(bob={"groups": ["sre", "audit", "search-oncall"]})
    sign_in(client, "bob")
    user = User.objects.get(username="bob")
    assert roles(user) == ["Auditors", "Responders"]
    assert team_names(user) == ["Payments", "Search"]  # "search" named the team by its slug
    client.post("/accounts/logout/")

    sso.set_people(bob={"groups": ["audit"]})
    assert sign_in(client, "bob").status_code == 302
    user.refresh_from_db()
    assert roles(user) == ["Auditors"] and team_names(user) == []


def test_roles_and_teams_the_mapping_does_not_name_are_left_alone(client, sso, teams):
    ops = make_team("Ops")  # not in OIDC_GROUP_TEAMS: its membership is the admin's to give
    sso.set_people(carol={"groups": ["support"]})
    sign_in(client, "carol")
    user = User.objects.get(username="carol")
    ops.group.user_set.add(user)
    client.post("/accounts/logout/")
    sign_in(client, "carol")
    assert team_names(user) == ["Ops"] and roles(user) == ["Communications"]


def test_admins_mapping_sets_staff_and_takes_it_back(client, sso):
    sso.set_people(dana={"groups": ["it-admins", "sre"]})
    sign_in(client, "dana")
    user = User.objects.get(username="dana")
    assert user.is_staff and not user.is_superuser
    assert client.get("/admin/").status_code == 200
    client.post("/accounts/logout/")
    sso.set_people(dana={"groups": ["sre"]})
    sign_in(client, "dana")
    user.refresh_from_db()
    assert not user.is_staff and roles(user) == ["Responders"]


def test_person_whose_groups_map_to_no_role_is_refused_with_a_page(client, sso):
    sso.set_people(eve={"groups": ["marketing"]})
    response = sign_in(client, "eve")
    assert response.status_code == 403
    body = response.content.decode()
    assert "none of your groups there gives a role in Relay" in body and "marketing" in body
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(username="eve").exists()


def test_person_who_lost_every_role_is_refused_and_keeps_none(client, sso):
    sso.set_people(frank={"groups": ["sre"]})
    sign_in(client, "frank")
    client.post("/accounts/logout/")
    sso.set_people(frank={"groups": []})
    assert sign_in(client, "frank").status_code == 403
    assert roles(User.objects.get(username="frank")) == []
    assert "_auth_user_id" not in client.session


def test_matched_by_subject_not_by_email(client, sso):
    """A local account with the same address is not taken over; the name is made unique."""
    local = make_user("grace", "Auditors")
    sso.set_people(grace={"groups": ["sre"], "email": local.email})
    sign_in(client, "grace")
    created = User.objects.get(relay_profile__sso_subject="sub-grace")
    assert created.pk != local.pk and created.username == "grace-2"
    assert roles(local) == ["Auditors"]
    # A new subject claiming the same username and address is another person again.
    client.post("/accounts/logout/")
    sso.set_people(grace={"groups": ["sre"], "sub": "sub-impostor", "email": local.email})
    sign_in(client, "grace")
    assert User.objects.get(relay_profile__sso_subject="sub-impostor").username == "grace-3"


def test_deactivated_person_is_refused(client, sso):
    sso.set_people(hal={"groups": ["sre"]})
    sign_in(client, "hal")
    User.objects.filter(username="hal").update(is_active=False)
    client.post("/accounts/logout/")
    response = sign_in(client, "hal")
    assert response.status_code == 403 and "deactivated" in response.content.decode()


def test_sign_in_goes_back_to_the_page_asked_for(client, sso):
    sso.set_people(ivy={"groups": ["sre"]})
    response = client.get(idp_sign_in(client, "ivy", next_url="/oncall/"))
    assert response["Location"] == "/oncall/"


def test_tampered_state_is_refused_with_400(client, sso):
    sso.set_people(jay={"groups": ["sre"]})
    callback = idp_sign_in(client, "jay")
    response = client.get(callback.replace("state=", "state=x"))
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_callback_from_another_browser_is_refused(client, sso):
    sso.set_people(kim={"groups": ["sre"]})
    callback = idp_sign_in(client, "kim")
    client.cookies.clear()
    response = client.get(callback)
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_replayed_callback_is_refused(client, sso):
    sso.set_people(lee={"groups": ["sre"]})
    callback = idp_sign_in(client, "lee")
    assert client.get(callback).status_code == 302
    client.post("/accounts/logout/")
    assert client.get(callback).status_code == 400


def test_nonce_that_does_not_match_the_token_is_refused(client, sso):
    sso.set_people(max={"groups": ["sre"]})
    callback = idp_sign_in(client, "max")
    session = client.session
    for entry in session["oidc_states"].values():
        entry["nonce"] = "not-the-nonce-the-provider-signed"
    session.save()
    response = client.get(callback)
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert not User.objects.filter(username="max").exists()


def test_provider_error_answer_is_a_page_not_a_500(client, sso):
    response = client.get("/oidc/callback/?error=access_denied&state=whatever")
    assert response.status_code == 400 and "access_denied" in response.content.decode()
    assert client.get("/oidc/callback/").status_code == 400


def test_wrong_code_is_refused_by_the_provider_and_shown(client, sso):
    sso.set_people(ned={"groups": ["sre"]})
    callback = idp_sign_in(client, "ned")
    response = client.get(callback.replace("code=", "code=forged"))
    assert response.status_code == 400
    assert "did not accept this sign-in" in response.content.decode()


def test_login_page_offers_the_provider_beside_passwords(client, sso):
    body = client.get("/accounts/login/?next=/oncall/").content.decode()
    assert "Sign in with Corp IdP" in body and "/oidc/authenticate/?next=/oncall/" in body
    assert 'id="id_password"' in body


def test_login_page_without_sso_is_unchanged(client, db):
    body = client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in body and 'id="id_password"' in body
    assert client.get("/oidc/authenticate/").status_code == 404


# LOCAL_PASSWORDS=off


@pytest.fixture
def passwords_off(sso, settings):
    sso_settings(settings, sso.issuer, local_passwords=False)
    return sso


def test_passwords_off_login_page_shows_only_the_button(client, passwords_off):
    body = client.get("/accounts/login/").content.decode()
    assert "Sign in with Corp IdP" in body
    assert 'id="id_password"' not in body and "Log in</button>" not in body


def test_passwords_off_refuses_a_password_post(client, passwords_off, responder):
    response = client.post("/accounts/login/", {"username": "responder",
                                                "password": "pw-responder"})
    assert response.status_code == 403
    assert "Relay does not take passwords" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_passwords_off_refuses_the_admin_password_login(client, passwords_off, admin_user):
    response = client.post("/admin/login/", {"username": "admin", "password": "pw-admin"})
    assert response.status_code == 403 and "_auth_user_id" not in client.session
    redirect = client.get("/admin/login/?next=/admin/")
    assert redirect.status_code == 302
    assert redirect["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_passwords_off_no_backend_checks_passwords(passwords_off, responder, rf):
    request = rf.post("/accounts/login/")
    assert authenticate(request, username="responder", password="pw-responder") is None


def test_passwords_off_api_tokens_still_work(client, passwords_off, responder):
    _, raw = ApiToken.issue(responder, "ci")
    response = client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200


def test_passwords_off_sso_staff_reaches_the_admin(client, passwords_off):
    passwords_off.set_people(olga={"groups": ["it-admins"]})
    response = client.get(idp_sign_in(client, "olga", next_url="/admin/"))
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("env, message", [
    ({"LOCAL_PASSWORDS": "off"}, "LOCAL_PASSWORDS=off needs single sign-on"),
    ({"OIDC_ISSUER": "https://idp.example.test"}, "set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
    ({"OIDC_GROUP_ROLES": "sre"}, "write key=value pairs"),
])
def test_settings_refuse_to_start_half_configured(env, message):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_")}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", **env},
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


# Discovery


class _Discovery(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).hits += 1
        issuer = f"http://127.0.0.1:{self.server.server_port}"
        body = (f'{{"issuer": "{issuer}", "authorization_endpoint": "{issuer}/auth", '
                f'"token_endpoint": "{issuer}/token", "userinfo_endpoint": "{issuer}/me", '
                f'"jwks_uri": "{issuer}/jwks", "id_token_signing_alg_values_supported": '
                f'["RS256"]}}').encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_discovery_is_fetched_once_not_per_request(client, settings, db):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Discovery)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        sso_settings(settings, f"http://127.0.0.1:{server.server_port}")
        _Discovery.hits = 0
        for _ in range(3):
            assert "Sign in with Corp IdP" in client.get("/accounts/login/").content.decode()
        assert client.get("/oidc/authenticate/")["Location"].startswith(
            f"http://127.0.0.1:{server.server_port}/auth?")
        assert _Discovery.hits == 1
    finally:
        server.shutdown()


def test_unreachable_provider_leaves_the_login_page_working(client, settings, db):
    sso_settings(settings, f"http://127.0.0.1:{free_port()}")
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Single sign-on with Corp IdP is unavailable right now" in body
    assert 'id="id_password"' in body
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 503 and "unavailable" in start.content.decode()


def test_password_throttle_still_locks_with_sso_on(client, sso, responder, settings):
    for n in range(settings.RELAY_LOGIN_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "responder", "password": "wrong"},
                    REMOTE_ADDR=f"198.51.100.{n + 1}")
    response = client.post("/accounts/login/", {"username": "responder",
                                                "password": "pw-responder"})
    assert response.status_code == 429 and "_auth_user_id" not in client.session


def test_token_from_another_issuer_is_refused(client, sso, settings):
    # Relay configured for one issuer, a token signed and issued by another provider (whose
    # endpoints answered): its `iss` does not match, so nobody is signed in.
    sso.set_people(oda={"groups": ["sre"]})
    callback = idp_sign_in(client, "oda")
    other = "https://other-idp.example.test"
    relay_sso._discovered[other] = (0.0, relay_sso.endpoints())
    settings.OIDC_ISSUER = other
    response = client.get(callback)
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert not User.objects.filter(username="oda").exists()


def test_token_for_another_client_is_refused(client, sso, monkeypatch):
    # The library checks the signature and expiry; a provider that answered with a token meant
    # for another of its clients (the test provider has one) is stood in for by rewriting `aud`
    # after that check.
    from mozilla_django_oidc.auth import OIDCAuthenticationBackend

    checked = OIDCAuthenticationBackend.get_payload_data
    monkeypatch.setattr(OIDCAuthenticationBackend, "get_payload_data",
                        lambda self, token, key: {**checked(self, token, key),
                                                  "aud": ["another-client"]})
    sso.set_people(pia={"groups": ["sre"]})
    response = sign_in(client, "pia")
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert not User.objects.filter(username="pia").exists()


def test_refused_sso_sign_ins_do_not_lock_the_address_for_passwords(client, sso, responder,
                                                                     settings):
    # Someone the provider knows but who has no role in Relay keeps trying: each is refused with
    # its page, and still nobody's password sign-in from the same address is locked.
    from axes.models import AccessAttempt

    sso.set_people(eve={"groups": ["marketing"]})
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        assert sign_in(client, "eve").status_code == 403
    assert not AccessAttempt.objects.exists()
    response = client.post("/accounts/login/", {"username": "responder",
                                                "password": "pw-responder"})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    assert AuditEntry.objects.filter(action="user.login_failed").count() >= (
        settings.AXES_FAILURE_LIMIT + 1)  # still in the audit log
