"""Fuzzing the status page's API like the rest of the API (tests/incidents/test_fuzz_input.py):
parts of valid bodies for setting a component, scheduling, editing and updating a maintenance
replaced by hostile values (NUL, lone surrogates, huge numbers, NaN, deep nesting, wrong types,
long text) or junk bodies. Never a 5xx; a 400 stores nothing."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from comms.models import ComponentChange, Maintenance, MaintenanceUpdate
from tests.incidents.test_api import bearer_client
from tests.incidents.test_fuzz_input import fuzz_json_writes

pytestmark = pytest.mark.django_db

MODELS = (ComponentChange, Maintenance, MaintenanceUpdate)


def counts() -> tuple:
    return tuple(model.objects.count() for model in MODELS)


def _cases(component, maintenance):
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    return {
        "component-status": ("patch", f"/api/v1/status/components/{component.code}/",
                             {"status": "partial_outage", "note": "Card payments slow"}),
        "maintenance-schedule": ("post", "/api/v1/status/maintenances/", {
            "name": "Database upgrade", "body": "Checkout may be slow.",
            "components": [component.code], "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat()}),
        "maintenance-edit": ("patch", f"/api/v1/status/maintenances/{maintenance.code}/",
                             {"name": "Database upgrade, part two",
                              "ends_at": (start + timedelta(hours=3)).isoformat()}),
        "maintenance-update": ("post", f"/api/v1/status/maintenances/{maintenance.code}/updates/",
                               {"body": "Replica one is done."}),
    }


@pytest.mark.parametrize("case", ["component-status", "maintenance-schedule", "maintenance-edit",
                                  "maintenance-update"])
def test_status_api_never_fails_on_hostile_bodies(case, csm, component):
    start = timezone.now() + timedelta(days=1)
    maintenance = Maintenance.objects.create(name="Upgrade", body="Slow.", starts_at=start,
                                             ends_at=start + timedelta(hours=1))
    maintenance.components.set([component])
    method, url, base = _cases(component, maintenance)[case]
    client = bearer_client(csm)
    valid = getattr(client, method)(url, data=json.dumps(base), content_type="application/json")
    assert valid.status_code in (200, 201), valid.content[:500]  # the door is open to fuzz
    fuzz_json_writes(client, method, url, base, counts)
