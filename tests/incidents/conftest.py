"""Intake fixtures: integrations with their keys, vendor payloads from tests/incidents/fixtures."""

import json
from pathlib import Path

import pytest
from django.core.cache import cache

from incidents.intake import keys, services
from incidents.models import IntegrationFormat

FIXTURES = Path(__file__).parent / "fixtures"


def vendor_request(name: str) -> dict:
    """A request captured from a real sender: {"method", "path", "headers", "body"}."""
    return json.loads((FIXTURES / "alertmanager" / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def _fresh_intake_state():
    # Key lookups and rate counters live in process memory; ids repeat between tests.
    keys.forget_keys()
    cache.clear()
    yield
    keys.forget_keys()


def make_integration(service, format=IntegrationFormat.GENERIC, **fields):
    integration, key = services.create_integration(by=None, service=service, format=format)
    if fields:
        for name, value in fields.items():
            setattr(integration, name, value)
        integration.save()
    return integration, key


@pytest.fixture
def alertmanager_key(service):
    return make_integration(service, IntegrationFormat.ALERTMANAGER)[1]


@pytest.fixture
def pagerduty_key(service):
    return make_integration(service, IntegrationFormat.PAGERDUTY)[1]


@pytest.fixture
def generic_key(service):
    return make_integration(service, IntegrationFormat.GENERIC)[1]
