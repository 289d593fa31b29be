"""The audit log of access: users and their groups (roles and teams) from the admin, API tokens,
sign-ins, failed sign-ins and lockouts. Passwords, tokens and their hashes never reach the log."""

import json
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_token
from incidents.audit import SECRET, verify_log
from incidents.models import AuditEntry, AuditSource
from tests.conftest import make_team, make_user

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.23"
LOGIN = "/accounts/login/"


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def the_entry(action: str) -> AuditEntry:
    [entry] = entries(action)
    return entry


def assert_nowhere(*secrets: str) -> None:
    log = json.dumps(list(AuditEntry.objects.values()), default=str)
    for secret in secrets:
        assert secret and secret not in log


def assert_origin(entry, user, source, ip=ADDRESS):
    assert (entry.actor, entry.actor_label, entry.source, entry.ip) == (
        user, user.username if user else "", source, ip)


@pytest.fixture
def admin(admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(admin_user)
    return admin_user, client


def change_form(user, **changes) -> dict:
    """The admin's user change form as it would come back with `changes`."""
    data = {"username": user.username, "first_name": user.first_name,
            "last_name": user.last_name, "email": user.email,
            "groups": [g.pk for g in user.groups.all()],
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            **{flag: "on" for flag in ("is_active", "is_staff", "is_superuser")
               if getattr(user, flag)}}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- users and groups from the admin -----------------------------------------------------------


def test_admin_creates_a_user_with_the_password_only_named(admin):
    admin_user, client = admin
    response = client.post("/admin/auth/user/add/", {
        "username": "dana", "password1": "Correct-Horse-42", "password2": "Correct-Horse-42",
        "usable_password": "true"})
    assert response.status_code == 302
    dana = User.objects.get(username="dana")
    [entry] = [e for e in entries("user.create") if e.object_repr == "dana"]
    assert_origin(entry, admin_user, "admin")
    assert entry.object_repr == "dana" and entry.object_id == str(dana.pk)
    assert entry.after["password"] == SECRET and entry.secrets_changed == ["password"]
    assert entry.after["is_staff"] is False
    assert_nowhere("Correct-Horse-42", dana.password)
    assert verify_log().intact


def test_user_created_without_a_password_names_no_secret(db):
    User.objects.create_user("sso-only")  # e.g. a single sign-on account, outside a request
    entry = the_entry("user.create")
    assert (entry.source, entry.actor, entry.secrets_changed) == ("system", None, [])
    assert entry.after["password"] == SECRET


def test_admin_user_change_logs_flags_and_groups(admin):
    admin_user, client = admin
    dana = make_user("dana", "Communications")
    responders = Group.objects.get(name="Responders")
    response = client.post(f"/admin/auth/user/{dana.pk}/change/", change_form(
        dana, is_staff="on", email="dana@example.test",
        groups=[responders.pk, Group.objects.get(name="Communications").pk]))
    assert response.status_code == 302
    updated = [e for e in entries("user.update") if e.actor == admin_user]
    assert len(updated) == 1
    assert_origin(updated[0], admin_user, "admin")
    assert (updated[0].before, updated[0].after) == ({"is_staff": False}, {"is_staff": True})
    assert updated[0].secrets_changed == []
    grouped = [e for e in entries("user.groups") if e.actor == admin_user]
    assert len(grouped) == 1
    assert_origin(grouped[0], admin_user, "admin")
    assert (grouped[0].before, grouped[0].after) == (
        {"groups": ["Communications"]}, {"groups": ["Communications", "Responders"]})


def test_admin_removing_every_group_and_granting_superuser(admin):
    admin_user, client = admin
    dana = make_user("dana", "Responders")
    response = client.post(f"/admin/auth/user/{dana.pk}/change/",
                           change_form(dana, is_superuser="on", groups=[]))
    assert response.status_code == 302
    [grouped] = [e for e in entries("user.groups") if e.actor == admin_user]
    assert (grouped.before, grouped.after) == ({"groups": ["Responders"]}, {"groups": []})
    [updated] = [e for e in entries("user.update") if e.actor == admin_user]
    assert updated.after == {"is_superuser": True}


def test_admin_password_change_says_only_that_it_changed(admin):
    admin_user, client = admin
    dana = make_user("dana")
    old_hash = dana.password
    response = client.post(f"/admin/auth/user/{dana.pk}/password/", {
        "password1": "Another-Long-Secret-7", "password2": "Another-Long-Secret-7",
        "usable_password": "true"})
    assert response.status_code == 302
    dana.refresh_from_db()
    [entry] = [e for e in entries("user.update") if e.actor == admin_user]
    assert (entry.before, entry.after, entry.secrets_changed) == ({}, {}, ["password"])
    assert_nowhere("Another-Long-Secret-7", old_hash, dana.password, "pw-dana")


def test_admin_refused_user_change_writes_no_entry(admin):
    _, client = admin
    dana = make_user("dana")
    before = AuditEntry.objects.count()
    response = client.post(f"/admin/auth/user/{dana.pk}/change/",
                           change_form(dana, username="bad name!", is_staff="on"))
    assert response.status_code == 200 and "username" in response.context["adminform"].errors
    assert AuditEntry.objects.count() == before


def test_admin_user_delete_keeps_who_it_was(admin):
    admin_user, client = admin
    dana = make_user("dana")
    response = client.post(f"/admin/auth/user/{dana.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    entry = the_entry("user.delete")
    assert_origin(entry, admin_user, "admin")
    assert (entry.object_id, entry.before["username"], entry.after) == (str(dana.pk), "dana",
                                                                        None)


def test_team_membership_from_either_side_is_logged_per_user(db):
    ann, bob = make_user("ann"), make_user("bob")
    team = make_team("Payments", ann, bob)  # group.user_set.add(ann) and (bob)
    team.group.user_set.remove(ann)
    bob.groups.clear()
    logged = [(e.object_repr, e.before, e.after) for e in entries("user.groups")]
    assert logged == [
        ("ann", {"groups": []}, {"groups": ["team:payments"]}),
        ("bob", {"groups": []}, {"groups": ["team:payments"]}),
        ("ann", {"groups": ["team:payments"]}, {"groups": []}),
        ("bob", {"groups": ["team:payments"]}, {"groups": []}),
    ]
    assert {e.source for e in entries("user.groups")} == {"system"}


def test_clearing_a_team_group_logs_each_member(db):
    ann, bob = make_user("ann"), make_user("bob")
    team = make_team("Payments", ann, bob)
    team.group.user_set.clear()
    cleared = [(e.object_repr, e.after) for e in entries("user.groups")][-2:]
    assert sorted(cleared) == [("ann", {"groups": []}), ("bob", {"groups": []})]


# --- sign-ins ----------------------------------------------------------------------------------


def test_sign_in_and_out_through_the_form(responder):
    client = Client(REMOTE_ADDR=ADDRESS)
    before = AuditEntry.objects.count()
    response = client.post(LOGIN, {"username": "responder", "password": "pw-responder"})
    assert response.status_code == 302
    assert client.post("/accounts/logout/").status_code == 302
    login, logout = the_entry("user.login"), the_entry("user.logout")
    assert_origin(login, responder, "web")
    assert_origin(logout, responder, "web")
    # last_login was saved too, and is no change of the account.
    assert AuditEntry.objects.count() == before + 2
    assert_nowhere("pw-responder")


def test_failed_sign_in_is_one_entry_with_the_name_tried_and_no_password(responder):
    response = Client(REMOTE_ADDR=ADDRESS).post(LOGIN, {
        "username": "responder", "password": "Wrong-Guess-123"})
    assert response.status_code == 200
    entry = the_entry("user.login_failed")
    assert_origin(entry, None, "web")
    assert (entry.object_type, entry.object_repr) == ("auth.user", "responder")
    assert_nowhere("Wrong-Guess-123")
    assert not entries("user.login")


def test_failed_admin_sign_in_is_from_the_admin(db):
    Client(REMOTE_ADDR=ADDRESS).post("/admin/login/", {
        "username": "nobody-here", "password": "Wrong-Guess-456"})
    entry = the_entry("user.login_failed")
    assert (entry.source, entry.object_repr) == ("admin", "nobody-here")
    assert_nowhere("Wrong-Guess-456")


def test_lockout_is_logged(responder):
    client = Client(REMOTE_ADDR=ADDRESS)
    for _ in range(settings.RELAY_LOGIN_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "responder", "password": "Wrong-Guess-789"})
    entry = the_entry("user.locked_out")
    assert (entry.object_repr, entry.source, entry.ip) == ("responder", "web", ADDRESS)
    assert len(entries("user.login_failed")) == settings.RELAY_LOGIN_FAILURE_LIMIT
    assert_nowhere("Wrong-Guess-789")


# --- API tokens --------------------------------------------------------------------------------


def test_admin_issues_revokes_and_deletes_a_token(admin, responder):
    admin_user, client = admin
    response = client.post("/admin/accounts/apitoken/add/", {
        "user": responder.pk, "name": "deploy bot"})
    assert response.status_code == 302
    [shown] = [str(m) for m in response.wsgi_request._messages if "copy it now" in str(m)]
    raw = shown.split(": ", 1)[1].split(" ", 1)[0]
    token = ApiToken.objects.get()
    assert token.key_hash == hash_token(raw)
    change = f"/admin/accounts/apitoken/{token.pk}/change/"
    assert client.post(change, {"user": responder.pk, "name": "deploy bot",
                                "revoked": "on"}).status_code == 302
    delete = f"/admin/accounts/apitoken/{token.pk}/delete/"
    assert client.post(delete, {"post": "yes"}).status_code == 302
    created, revoked = the_entry("api_token.create"), the_entry("api_token.revoke")
    deleted = the_entry("api_token.delete")
    for entry in (created, revoked, deleted):
        assert_origin(entry, admin_user, "admin")
        assert entry.object_repr == "deploy bot of responder"
    assert created.after == {"user": responder.pk, "name": "deploy bot", "revoked": False}
    assert (revoked.before, revoked.after) == ({"revoked": False}, {"revoked": True})
    assert deleted.before["name"] == "deploy bot"
    assert_nowhere(raw, token.key_hash, token.prefix)


def test_token_from_the_command_is_logged_without_it(responder):
    out = StringIO()
    call_command("create_api_token", "responder", "--name", "cli", stdout=out,
                 stderr=StringIO())
    raw = out.getvalue().strip()
    entry = the_entry("api_token.create")
    assert entry.after["name"] == "cli" and entry.after["user"] == responder.pk
    assert entry.source == AuditSource.COMMAND
    assert_nowhere(raw, hash_token(raw), raw[:14])


def test_using_a_token_writes_nothing(responder):
    _, raw = ApiToken.issue(responder, "ci")
    before = AuditEntry.objects.count()
    client = APIClient(REMOTE_ADDR=ADDRESS)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/incidents/").status_code == 200
    assert ApiToken.objects.get().last_used_at is not None
    assert AuditEntry.objects.count() == before
