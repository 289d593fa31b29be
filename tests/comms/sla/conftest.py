import pytest
from django.db import transaction

from comms.models import ContractTarget, Customer, SlaTarget, TierPolicy
from incidents.models import EntryKind, Incident
from incidents.timeline import record

# Enterprise-like targets: severity → (response minutes, resolution minutes).
TARGETS = {"P1": (15, 240), "P2": (30, 480), "P3": (60, 1440), "P4": (240, 2880)}


def give_targets(tier, calendar=None, **policy):
    TierPolicy.objects.update_or_create(tier=tier, defaults={"calendar": calendar, **policy})
    for severity, (response, resolution) in TARGETS.items():
        SlaTarget.objects.update_or_create(tier=tier, severity=severity, defaults={
            "response_minutes": response, "resolution_minutes": resolution})
    return tier


@pytest.fixture
def enterprise(tier):
    return give_targets(tier)


def make_customer(name, tier, csm=None, **contract):
    customer = Customer.objects.create(name=name, tier=tier, csm=csm)
    for severity, (response, resolution) in contract.items():
        ContractTarget.objects.create(customer=customer, severity=severity,
                                      response_minutes=response, resolution_minutes=resolution)
    return customer


def affect(incident, *customers, by=None):
    """What the customers area does when customers are marked affected: the link and one
    CUSTOMERS entry, in one transaction under the incident's lock."""
    with transaction.atomic():
        Incident.objects.select_for_update().get(pk=incident.pk)
        for customer in customers:
            customer.incidents.add(incident)
        record(incident, EntryKind.CUSTOMERS, by, data={
            "added": [c.name for c in customers]})
