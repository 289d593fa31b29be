"""Hostile values in every field of the customer-communications portal forms: the answer is a
form with an error (never a 5xx) and nothing is stored, or, where the value is acceptable, a
normal answer."""

from datetime import UTC, datetime

import pytest
from django.db import transaction

from comms.models import (
    ClockPause,
    Customer,
    CustomerContact,
    CustomerMessage,
    MessageTemplate,
    SlaTarget,
    UpdateCadence,
)
from comms.sla import services as sla_services
from incidents import services
from incidents.models import CustomerTier, Incident, Service, TimelineEntry
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

HOSTILE = ["\x00", "a\x00b", "x" * 30_000, "9" * 400, "-1", "", " ", "<script>x</script>",
           "1e400", "NaN", "2026-13-45", "99:99"]
MODELS = (Customer, CustomerContact, CustomerMessage, UpdateCadence, ClockPause,
          MessageTemplate, Incident, TimelineEntry)


def counts() -> tuple:
    return tuple(model.objects.count() for model in MODELS)


@pytest.fixture
def world(client):
    casey = make_user("casey", "Communications")
    tier = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    service = Service.objects.create(name="Checkout", slug="checkout")
    incident = services.declare(title="Checkout down", severity="P2", by=casey,
                                customer_tiers=[tier], started_at=datetime(2026, 1, 1, tzinfo=UTC))
    customer = Customer.objects.create(name="Acme", external_id="crm-1", tier=tier)
    SlaTarget.objects.create(tier=tier, severity="P2", response_minutes=30,
                             resolution_minutes=480)
    customer.incidents.add(incident)
    with transaction.atomic():  # the clocks start, so the pause form is on the panel
        sla_services.sync(Incident.objects.select_for_update().get(pk=incident.pk), by=casey)
    client.force_login(casey)
    return {"incident": incident, "customer": customer, "tier": tier, "service": service}


def _forms(w):
    n = w["incident"].pk
    formset = {"contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "0",
               "targets-TOTAL_FORMS": "0", "targets-INITIAL_FORMS": "0"}
    return {
        "report": ("/customers/report/", {
            "title": "Acme cannot pay", "service": w["service"].pk,
            "customers": w["customer"].pk, "what_customer_sees": "Errors", "severity": "P2"}),
        "customer": ("/customers/new/", {
            "name": "Globex", "external_id": "crm-2", "tier": w["tier"].pk, "notes": "",
            "contacts-0-name": "Hank", "contacts-0-email": "hank@globex.test",
            "contacts-0-role": "CTO", **formset}),
        "message": (f"/incidents/{n}/messages/new/", {
            "phase": "investigating", "subject": "Errors at checkout", "body": "On it.",
            "to_customers": "on"}),
        "cadence": (f"/incidents/{n}/messages/cadence/", {"minutes": "45"}),
        "pause": (f"/incidents/{n}/sla/pause/", {"reason": "Waiting for logs"}),
        "template": ("/messages/templates/investigating/", {
            "subject": "Investigating: {services}", "body": "We are looking into {impact}."}),
    }


@pytest.mark.parametrize("form", ["report", "customer", "message", "cadence", "pause",
                                  "template"])
def test_hostile_values_in_portal_forms_never_fail(client, world, form):
    url, valid = _forms(world)[form]
    for field in valid:
        if field.endswith(("TOTAL_FORMS", "INITIAL_FORMS")):
            continue
        for value in HOSTILE:
            before = counts()
            response = client.post(url, {**valid, field: value}, HTTP_HX_REQUEST="true")
            assert response.status_code < 500, (field, value[:20], response.content[:300])
            if response.status_code == 400:
                assert counts() == before, (field, value[:20])
                assert b"errorlist" in response.content or b"error" in response.content


def test_sla_period_with_hostile_dates_is_a_form_error(client, world):
    for value in HOSTILE:
        response = client.get("/sla/", {"start": value, "end": value})
        assert response.status_code in (200, 400), value[:20]
