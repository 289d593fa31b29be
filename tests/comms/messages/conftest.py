"""Customers affected by an incident, with contacts, and a second Communications person."""

import pytest

from comms.models import Customer, CustomerContact, TierPolicy
from incidents.models import CustomerTier
from tests.conftest import make_user


def affect(incident, tier, name="Acme Corp", emails=("ops@acme.test",), approval=False):
    """A customer of `tier` affected by `incident`, with a contact per email; the tier's policy
    asks for approval when `approval`."""
    TierPolicy.objects.update_or_create(tier=tier, defaults={"message_approval": approval})
    customer = Customer.objects.create(name=name, tier=tier)
    for number, email in enumerate(emails, 1):
        CustomerContact.objects.create(customer=customer, name=f"Contact {number}", email=email)
    customer.incidents.add(incident)
    return customer


@pytest.fixture
def business(db):
    return CustomerTier.objects.create(name="Business", slug="business", rank=2)


@pytest.fixture
def csm2(db):
    return make_user("csm2", "Communications")


@pytest.fixture
def customer(incident, business):
    """A Business customer (no approval needed) with two contacts."""
    return affect(incident, business, emails=("ops@acme.test", "cto@acme.test"))
