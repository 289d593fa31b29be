"""A real OpenID Connect provider on loopback for the single sign-on tests: the npm package
oidc-provider (installed by `make test` into .cache/npm) run by tests/accounts/oidc_provider.mjs.

`oidc_idp` starts it once per session on a free port and waits for its discovery document;
`sso` points Relay at it for one test (settings as the environment would give them) and
resets its people. `idp_sign_in` walks a browserless sign-in at the provider."""

import json
import os
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from accounts import sso as relay_sso

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / ".cache" / "npm" / "node_modules" / "oidc-provider"
SCRIPT = ROOT / "tests" / "accounts" / "oidc_provider.mjs"
CLIENT_ID = "relay-tests"
CLIENT_SECRET = "relay-tests-client-secret-0f4c2a"
CALLBACKS = [f"http://{host}/oidc/callback/" for host in ("testserver", "localhost", "127.0.0.1")]
AFTER_LOGOUT = [f"http://{host}/accounts/login/" for host in ("testserver", "localhost",
                                                              "127.0.0.1")]
ROLES = (("sre", "Responders"), ("support", "Communications"), ("audit", "Auditors"),
         ("it-admins", "Admins"))
TEAMS = (("sre", "Payments"), ("search-oncall", "search"))


@dataclass
class IdentityProvider:
    issuer: str
    users_file: Path

    def set_people(self, **people) -> None:
        """username → {"groups": [...], optional "sub", "password", "email", "name"}."""
        rows = {}
        for username, person in people.items():
            rows[username] = {"sub": f"sub-{username}", "password": f"idp-{username}",
                              "email": f"{username}@corp.example.test",
                              "name": username.title(), "groups": [], **person}
        self.users_file.write_text(json.dumps(rows))


@pytest.fixture(scope="session")
def oidc_idp(tmp_path_factory):
    if not (MODULE / "package.json").exists():
        pytest.fail(f"oidc-provider is not installed in {MODULE.parent}: run `make test`, which "
                    "installs it from the npm registry.")
    folder = tmp_path_factory.mktemp("oidc")
    users = folder / "users.json"
    users.write_text("{}")
    log = (folder / "provider.log").open("w")
    env = {**os.environ, "OIDC_PROVIDER_MODULE": str(MODULE), "OIDC_CLIENT_ID": CLIENT_ID,
           "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_REDIRECT_URIS": ",".join(CALLBACKS),
           "OIDC_LOGOUT_URIS": ",".join(AFTER_LOGOUT), "OIDC_USERS_FILE": str(users)}
    process = subprocess.Popen(["node", str(SCRIPT)], env=env, stdout=subprocess.PIPE,
                               stderr=log, text=True)
    try:
        issuer = _first_line(process, timeout=20)
        _wait_for_discovery(issuer, timeout=20)
        yield IdentityProvider(issuer, users)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _first_line(process, timeout) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline().strip() if ready else ""
    if not line.startswith("http://127.0.0.1:"):
        raise RuntimeError(f"the test OpenID provider did not start (said {line!r}; exit code "
                           f"{process.poll()}); see provider.log in the pytest temp folder")
    return line


def _wait_for_discovery(issuer, timeout) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{issuer} never served its discovery document")
        time.sleep(0.1)


def sso_settings(settings, issuer: str, *, local_passwords: bool = True) -> None:
    """Relay's settings as OIDC_ISSUER, OIDC_CLIENT_ID, … in the environment would set them."""
    settings.OIDC_ISSUER = issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Corp IdP"
    settings.OIDC_GROUP_ROLES = ROLES
    settings.OIDC_GROUP_TEAMS = TEAMS
    settings.SSO_ENABLED = True
    settings.LOCAL_PASSWORDS = local_passwords
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesBackend",
        *(["django.contrib.auth.backends.ModelBackend"] if local_passwords else []),
        "accounts.sso.OIDCBackend",
        "guardian.backends.ObjectPermissionBackend",
    ]
    relay_sso.forget_discovery()


@pytest.fixture
def sso(oidc_idp, settings, db):
    """Relay signed in through the test provider, local passwords still on; no people yet."""
    oidc_idp.set_people()
    sso_settings(settings, oidc_idp.issuer)
    yield oidc_idp
    relay_sso.forget_discovery()


def idp_sign_in(client, username: str, password: str | None = None, next_url: str = ""):
    """Start single sign-on with Django's test client, sign in at the provider with requests,
    and return the callback URL (path and query) the provider sends the browser back to."""
    start = client.get("/oidc/authenticate/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302, start.content
    browser = requests.Session()
    url = start["Location"]
    page = browser.get(url, allow_redirects=True, timeout=10)
    assert "Test identity provider" in page.text, page.text
    answer = browser.post(page.url, data={"username": username,
                                          "password": password or f"idp-{username}"},
                          allow_redirects=False, timeout=10)
    for _ in range(5):  # the provider's own redirects, until one leaves it for Relay
        location = urljoin(answer.url, answer.headers.get("Location", ""))
        parts = urlsplit(location)
        if answer.status_code not in (302, 303) or parts.netloc == "testserver":
            break
        answer = browser.get(location, allow_redirects=False, timeout=10)
    assert parts.netloc == "testserver", (answer.status_code, answer.text)
    return f"{parts.path}?{parts.query}"
