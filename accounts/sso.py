"""Single sign-on over OpenID Connect: the provider's endpoints, who an SSO sign-in is, and which
Relay roles and teams the provider's groups grant.

mozilla-django-oidc runs the authorization-code flow (state, nonce, PKCE, the RS256 signature
against the provider's JWKS); `OIDCBackend` adds what Relay needs on top:

- the endpoints come from the issuer's discovery document, fetched on first use and kept for the
  life of the process (a failure is remembered for RETRY_SECONDS, so an unreachable provider
  costs one timeout per interval, not one per page);
- a person is found by the (issuer, `sub`) pair stored on their Profile, never by email: an
  address the provider lets someone set would otherwise open another person's account;
- on every sign-in the roles and teams that OIDC_GROUP_ROLES / OIDC_GROUP_TEAMS name are set to
  exactly what the provider's groups grant (the others stay as the admin left them); a person
  whose groups grant no role is refused.

The issuer is operator configuration, not user input, so its URLs are fetched directly (with
requests, as the library does) rather than through config.outbound's private-address guard.
"""

import logging
import re
import threading
import time
from typing import NamedTuple

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import IntegrityError, transaction
from django.db.models import Q
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.models import Profile

log = logging.getLogger(__name__)

RETRY_SECONDS = 30
DISCOVERY_TIMEOUT = 5
CREATE_ATTEMPTS = 5  # first sign-ins racing for one username, before giving up with a 400
ADMINS = "Admins"  # the role whose members also get the Django admin (is_staff)


class Unavailable(Exception):
    """The provider's discovery document could not be had; the message says why."""


class Endpoints(NamedTuple):
    authorization: str
    token: str
    userinfo: str
    jwks: str
    end_session: str | None


_lock = threading.Lock()
_discovered: dict[str, tuple[float, Endpoints | str]] = {}  # issuer → (retry at, result)


def enabled() -> bool:
    return settings.SSO_ENABLED


def provider_name() -> str:
    return settings.OIDC_PROVIDER_NAME


def endpoints() -> Endpoints:
    """The configured issuer's endpoints, discovered once per process. Raises Unavailable."""
    issuer = settings.OIDC_ISSUER
    with _lock:  # one fetch at a time: the first caller fetches, the others use its result
        retry_at, result = _discovered.get(issuer, (0.0, ""))
        if isinstance(result, Endpoints):
            return result
        if result and time.monotonic() < retry_at:
            raise Unavailable(result)
        try:
            result = _discover(issuer)
        except Unavailable as error:
            _discovered[issuer] = (time.monotonic() + RETRY_SECONDS, str(error))
            raise
        _discovered[issuer] = (0.0, result)
        return result


def forget_discovery() -> None:
    with _lock:
        _discovered.clear()


def _discover(issuer: str) -> Endpoints:
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=min(DISCOVERY_TIMEOUT, settings.OIDC_TIMEOUT))
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        log.warning("OpenID Connect discovery at %s failed: %s", url, error)
        raise Unavailable(f"{issuer} did not answer with its OpenID configuration.") from None
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer:
        # The spec requires the document to name the issuer it was fetched for.
        raise Unavailable(f"{url} describes another issuer than {issuer}.")
    if "RS256" not in document.get("id_token_signing_alg_values_supported", []):
        raise Unavailable(f"{issuer} does not sign ID tokens with RS256.")
    try:
        return Endpoints(document["authorization_endpoint"], document["token_endpoint"],
                         document["userinfo_endpoint"], document["jwks_uri"],
                         document.get("end_session_endpoint"))
    except KeyError as missing:
        raise Unavailable(f"{issuer}'s OpenID configuration has no {missing}.") from None


def idp_groups(claims: dict) -> set[str]:
    """The provider's groups for this person, from the configured claim (a list, or one name)."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return set()
    return {item for item in value if isinstance(item, str)}


def granted_roles(groups: set[str]) -> set[str]:
    return {role for group, role in settings.OIDC_GROUP_ROLES if group in groups}


def apply_groups(user, groups: set[str]) -> None:
    """Set the roles and teams the mappings name to what `groups` grant; leave the others."""
    roles = granted_roles(groups)
    managed_roles = {role for _, role in settings.OIDC_GROUP_ROLES}
    teams = {team for group, team in settings.OIDC_GROUP_TEAMS if group in groups}
    managed_teams = {team for _, team in settings.OIDC_GROUP_TEAMS}
    grant, revoke = [], []
    for group in Group.objects.filter(name__in=managed_roles):
        (grant if group.name in roles else revoke).append(group)
    # Teams through their auth group's reverse relation: accounts sits below oncall.
    found = set()
    for group in Group.objects.filter(Q(team__name__in=managed_teams)
                                      | Q(team__slug__in=managed_teams)).select_related("team"):
        found |= {group.team.name, group.team.slug}
        (grant if {group.team.name, group.team.slug} & teams else revoke).append(group)
    for missing in sorted(managed_teams - found):
        log.warning("OIDC_GROUP_TEAMS names %r, which is no team's name or slug.", missing)
    user.groups.remove(*revoke)
    user.groups.add(*grant)
    if ADMINS in managed_roles:
        user.is_staff = ADMINS in roles
        user.save(update_fields=["is_staff"])


def unique_username(claims: dict, model) -> str:
    wanted = claims.get("preferred_username") or (claims.get("email") or "").split("@")[0]
    base = re.sub(r"[^\w.@+-]", "", str(wanted))[:140] or "user"
    name, n = base, 1
    while model.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def refuse(request, message: str):
    """Refuse this sign-in; the callback view shows `message` (Django's authenticate() turns the
    PermissionDenied into a failed sign-in, with its signal)."""
    request.sso_refusal = message
    raise PermissionDenied(message)


class OIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with discovered endpoints, identity by `sub`, and the group
    mapping. A ModelBackend, so it also answers permission checks from the user's groups."""

    def __init__(self, *args, **kwargs):
        # Instantiated for every request's session user, so nothing here may reach the network.
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or not enabled() or "code" not in request.GET:
            return None  # a password sign-in, or not a callback
        found = endpoints()
        self.OIDC_OP_TOKEN_ENDPOINT = found.token
        self.OIDC_OP_USER_ENDPOINT = found.userinfo
        self.OIDC_OP_JWKS_ENDPOINT = found.jwks
        return super().authenticate(request, **kwargs)

    def get_payload_data(self, token, key):
        payload = super().get_payload_data(token, key)
        # The library checks the signature and expiry only: the token must also be ours.
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss", "").rstrip("/") != settings.OIDC_ISSUER:
            raise SuspiciousOperation("ID token from another issuer.")
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token for another client.")
        return payload

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo answer is about another subject.")
        claims = {**payload, **userinfo}
        groups = idp_groups(claims)
        with transaction.atomic():
            user = self.find_user(claims["sub"])
            if user is None and not granted_roles(groups):
                refuse(self.request, self.no_role_message(groups))
            if user is None:
                user = self.create_user(claims)
            elif not user.is_active:
                refuse(self.request, "Your Relay account is deactivated; ask an administrator.")
            self.update_user(user, claims)
            apply_groups(user, groups)
        if not granted_roles(groups):  # after the commit: the roles taken away stay taken away
            refuse(self.request, self.no_role_message(groups))
        return user

    def find_user(self, subject: str):
        return (self.UserModel.objects
                .filter(relay_profile__sso_issuer=settings.OIDC_ISSUER,
                        relay_profile__sso_subject=subject)
                .first())

    def create_user(self, claims):
        """A new person, or whoever a concurrent sign-in created for the same `sub` (two tabs
        coming back at once). A username another first sign-in took between the check and the
        insert moves on to the next free one."""
        for _ in range(CREATE_ATTEMPTS):
            try:
                with transaction.atomic():
                    user = self.UserModel.objects.create_user(
                        unique_username(claims, self.UserModel))
                    Profile.objects.update_or_create(user=user, defaults={
                        "sso_issuer": settings.OIDC_ISSUER, "sso_subject": claims["sub"]})
                    return user
            except IntegrityError:
                existing = self.find_user(claims["sub"])
                if existing is not None:
                    return existing
        raise SuspiciousOperation("Could not create a user for this sign-in; it kept racing.")

    def update_user(self, user, claims):
        user.email = str(claims.get("email") or user.email)[:254]
        user.first_name = str(claims.get("given_name") or user.first_name)[:150]
        user.last_name = str(claims.get("family_name") or user.last_name)[:150]
        user.save(update_fields=["email", "first_name", "last_name"])
        return user

    @staticmethod
    def no_role_message(groups: set[str]) -> str:
        listed = ", ".join(sorted(groups)) or "none"
        return (f"{provider_name()} signed you in, but none of your groups there gives a role in "
                f"Relay (your groups: {listed}). Ask an administrator to add you to one.")

    def get_user(self, user_id):
        # The library's get_user skips the is_active check; Django's keeps it.
        return ModelBackend.get_user(self, user_id)
