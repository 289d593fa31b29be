"""Personas and factories shared by the whole suite. Deterministic: no random names, no sleeps."""

import itertools

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User

from accounts.roles import sync_role_groups
from incidents import services
from incidents.models import CustomerTier, Service, Severity
from oncall.models import Team
from tests.oidc_idp import oidc_idp, sso  # noqa: F401 (single sign-on tests)
from tests.receivers import http_receiver, smtp_server  # noqa: F401 (fixtures for every test)

_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _own_checkpoints(tmp_path_factory, settings):
    """Each test its own checkpoint directory: checkpoints outlive a test's database rollback."""
    settings.RELAY_CHECKPOINT_DIR = tmp_path_factory.mktemp("checkpoints")


def ensure_role_groups() -> None:
    """Role groups come from a data migration; a transactional test's flush removes them, so
    recreate them (idempotently, from the declared table) when missing."""
    if Group.objects.filter(name="Responders").exists():
        return
    sync_role_groups(django_apps)


def make_user(username: str, *groups: str, **extra) -> User:
    if groups:
        ensure_role_groups()
    user = User.objects.create_user(username=username, password="pw-" + username,
                                    email=f"{username}@example.test", **extra)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture
def commander(db):
    return make_user("commander", "Responders")


@pytest.fixture
def responder(db):
    return make_user("responder", "Responders")


@pytest.fixture
def csm(db):
    return make_user("csm", "Communications")


@pytest.fixture
def auditor(db):
    return make_user("auditor", "Auditors")


@pytest.fixture
def admin_user(db):
    return make_user("admin", "Admins", is_staff=True)


@pytest.fixture
def outsider(db):
    """Logged in, but in no role group: sees nothing."""
    return make_user("outsider")


@pytest.fixture
def team(commander):
    # Its lead hears of each incident on its services that someone else declares, and a team
    # with a lead is not the "nobody will be paged" case (incidents.paging.leads).
    team = make_team("Payments")
    team.lead = commander
    team.save(update_fields=["lead"])
    return team


def make_team(name: str, *members: User) -> Team:
    group = Group.objects.create(name=f"team:{name.lower()}")
    team = Team.objects.create(name=name, slug=name.lower(), group=group)
    for member in members:
        group.user_set.add(member)
    return team


@pytest.fixture
def service(team):
    return Service.objects.create(name="Checkout API", slug="checkout-api", team=team,
                                  runbook_url="https://runbooks.example.test/checkout")


@pytest.fixture
def tier(db):
    return CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)


def declare(by=None, severity=Severity.P2, **kwargs):
    kwargs.setdefault("title", f"Checkout errors {next(_counter)}")
    return services.declare(severity=severity, by=by, **kwargs)


@pytest.fixture
def incident(commander, service):
    return declare(by=commander, title="Checkout returns 502", services=[service])


@pytest.fixture
def restricted_incident(commander):
    return declare(by=commander, title="Suspicious admin logins", severity=Severity.P1,
                   restricted=True)
