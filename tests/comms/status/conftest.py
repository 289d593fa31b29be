"""Status-page fixtures: components linked to the incident's service, and publishing."""

import pytest
from django.core.cache import caches

from comms.messages import services as messages
from comms.models import Component, ComponentGroup, Phase
from comms.status import cache


@pytest.fixture(autouse=True)
def fresh_status_cache():
    """Each test starts with no rendered page, in this process or the shared cache."""
    caches["default"].clear()
    cache.clear_local()
    yield
    cache.clear_local()


@pytest.fixture
def group(db):
    return ComponentGroup.objects.create(name="Payments", position=1)


@pytest.fixture
def component(group, service):
    component = Component.objects.create(name="Checkout", group=group, position=1)
    component.services.add(service)
    return component


@pytest.fixture
def other_component(group):
    return Component.objects.create(name="Dashboard", group=group, position=2)


def publish(incident, by, subject="Checkout errors", body="Some payments fail; we are on it.",
            phase=Phase.INVESTIGATING, to_customers=False):
    """Draft and publish a message for the status page; the published message."""
    message = messages.draft(incident, by=by, phase=phase, subject=subject, body=body,
                             to_customers=to_customers, to_status_page=True)
    return messages.publish(message, by=by)
