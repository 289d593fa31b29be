"""API tokens: stored hashed, accepted as `Authorization: Bearer`, issued by create_api_token."""

from io import StringIO

import pytest
from django.core.management import base as management_base
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.models import TOKEN_PREFIX, ApiToken, hash_token
from tests.conftest import make_user

LIST = "/api/v1/incidents/"


def get_with(header: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client.get(LIST)


def run_cli(*args: str, capsys, monkeypatch) -> tuple[int, str, str]:
    """As `manage.py create_api_token ARGS` would: exit status, stdout, stderr. The command's
    final close_all() is disabled so the test transaction survives."""
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)
    command = load_command_class("accounts", "create_api_token")
    try:
        command.run_from_argv(["manage.py", "create_api_token", "--skip-checks", "--no-color",
                               *args])
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --- storage -----------------------------------------------------------------------------------

def test_token_is_stored_only_as_its_hash(responder):
    token, raw = ApiToken.issue(responder, "ci")
    token.refresh_from_db()
    assert raw.startswith(TOKEN_PREFIX)
    assert token.key_hash == hash_token(raw)
    assert token.prefix == raw[:14]
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert not any(raw in str(value) for value in stored.values())


def test_each_token_is_different(responder):
    assert ApiToken.issue(responder, "a")[1] != ApiToken.issue(responder, "b")[1]


# --- authentication ----------------------------------------------------------------------------

@pytest.mark.parametrize("keyword", ["Bearer", "bearer", "Token"])
def test_valid_token_authenticates_and_records_use(keyword, responder):
    token, raw = ApiToken.issue(responder, "ci")
    assert get_with(f"{keyword} {raw}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_request_without_credentials_is_401(db):
    response = APIClient().get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_wrong_token_is_401(responder):
    ApiToken.issue(responder, "ci")
    response = get_with(f"Bearer {TOKEN_PREFIX}not-the-token")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked token."}


def test_revoked_token_is_401(responder):
    token, raw = ApiToken.issue(responder, "ci")
    token.revoked = True
    token.save()
    assert get_with(f"Bearer {raw}").status_code == 401


def test_token_of_deactivated_user_is_401(responder):
    _, raw = ApiToken.issue(responder, "ci")
    responder.is_active = False
    responder.save()
    assert get_with(f"Bearer {raw}").status_code == 401


def test_malformed_authorization_header_is_401(responder):
    assert get_with("Bearer two words").status_code == 401


def test_token_cannot_be_used_as_a_hash(responder):
    token, _ = ApiToken.issue(responder, "ci")
    assert get_with(f"Bearer {token.key_hash}").status_code == 401


# --- manage.py create_api_token ----------------------------------------------------------------

def test_create_api_token_prints_a_working_token_once(responder):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "responder", "--name", "deploy bot", stdout=out,
                 stderr=err, no_color=True)
    raw = out.getvalue().strip()
    assert out.getvalue() == raw + "\n"
    assert "shown only this once" in err.getvalue()
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.key_hash) == (responder, "deploy bot", hash_token(raw))
    assert get_with(f"Bearer {raw}").status_code == 200


def test_create_api_token_names_the_token_cli_by_default(responder):
    call_command("create_api_token", "responder", stdout=StringIO(), stderr=StringIO())
    assert ApiToken.objects.get().name == "cli"


def test_create_api_token_from_the_command_line(responder, capsys, monkeypatch):
    status, out, err = run_cli("responder", capsys=capsys, monkeypatch=monkeypatch)
    assert status == 0
    [raw] = out.splitlines()
    assert ApiToken.objects.get().key_hash == hash_token(raw)
    assert "shown only this once" in err


def test_create_api_token_for_unknown_user_exits_1_with_a_sentence(db, capsys, monkeypatch):
    status, out, err = run_cli("nobody", capsys=capsys, monkeypatch=monkeypatch)
    assert status == 1
    assert out == ""
    assert err == "CommandError: No user named 'nobody'.\n"
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["left"], "The user 'left' is inactive; its token would be refused."),
    (["responder", "--name", " "], "The token name must be 1 to 100 characters."),
    (["responder", "--name", "x" * 101], "The token name must be 1 to 100 characters."),
])
def test_create_api_token_refuses_useless_tokens(args, message, responder):
    make_user("left", is_active=False)
    with pytest.raises(CommandError) as raised:
        call_command("create_api_token", *args, stdout=StringIO(), stderr=StringIO())
    assert str(raised.value) == message
    assert not ApiToken.objects.exists()
