import pytest

from comms.customers import services
from comms.models import TierPolicy
from incidents.models import CustomerTier, Service
from tests.conftest import make_team


@pytest.fixture
def business(db):
    return CustomerTier.objects.create(name="Business", slug="business", rank=2)


@pytest.fixture
def enterprise_policy(tier):
    return TierPolicy.objects.create(tier=tier, suggested_severity="P2")


def make_customer(name, tier, external_id=None, csm=None, contacts=(), targets=()):
    customer, _ = services.save_customer(
        by=None, name=name, tier=tier, external_id=external_id, csm=csm,
        contacts=[{"name": n, "email": e, "role": r} for n, e, r in contacts],
        targets=list(targets))
    return customer


@pytest.fixture
def acme(tier, csm):
    return make_customer("Acme Corp", tier, "crm-0001", csm=csm,
                         contacts=[("Dana Reyes", "dana@acme.example.com", "CTO")],
                         targets=[{"severity": "P1", "response_minutes": 10,
                                   "resolution_minutes": 120}])


@pytest.fixture
def initech(business):
    return make_customer("Initech", business, "crm-0003",
                         contacts=[("Bill Lumbergh", "bill@initech.example.com", "VP")])


@pytest.fixture
def silent_service(db):
    """Owned by a team without a lead, with no escalation policy: nobody would be paged."""
    return Service.objects.create(name="Legacy reports", slug="legacy-reports",
                                  team=make_team("Reporting"))
