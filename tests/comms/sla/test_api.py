"""GET /api/v1/incidents/{number}/sla/ and the pause and resume actions."""

import pytest

from comms.models import ClockPause
from tests.comms.sla.conftest import affect, make_customer
from tests.conftest import declare
from tests.incidents.test_api import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def sla_incident(commander, enterprise, csm):
    incident = declare(by=commander, customer_tiers=[enterprise], severity="P1")
    affect(incident, make_customer("Acme", enterprise, csm), by=csm)
    return incident


def url(incident, action=""):
    return f"/api/v1/incidents/{incident.pk}/sla/{action + '/' if action else ''}"


def test_clocks_with_state_due_left_and_target(auditor, sla_incident,
                                               django_assert_max_num_queries):
    client = bearer_client(auditor)
    with django_assert_max_num_queries(12):
        response = client.get(url(sla_incident))
    assert response.status_code == 200
    response_clock, resolution_clock = response.json()
    assert response_clock["kind"] == "response" and response_clock["customer"] == "Acme"
    assert response_clock["target_minutes"] == 15 and response_clock["state"] == "running"
    assert 14 * 60 < response_clock["left_seconds"] <= 15 * 60
    assert response_clock["text"].endswith("left of 15m")
    assert resolution_clock["target_minutes"] == 240 and resolution_clock["due_at"]


def test_pause_then_resume(csm, sla_incident):
    client = bearer_client(csm)
    response = client.post(url(sla_incident, "pause"), {"reason": "Waiting for logs"},
                           format="json")
    assert response.status_code == 201 and response.json()["reason"] == "Waiting for logs"
    assert [c["state"] for c in client.get(url(sla_incident)).json()] == ["paused", "paused"]
    again = client.post(url(sla_incident, "pause"), {"reason": "again"}, format="json")
    assert again.status_code == 409 and "already paused" in again.json()["detail"]
    response = client.post(url(sla_incident, "resume"))
    assert response.status_code == 200 and response.json()["ended_at"]
    assert client.post(url(sla_incident, "resume")).status_code == 409


def test_missing_reason_is_a_field_message(responder, sla_incident):
    response = bearer_client(responder).post(url(sla_incident, "pause"), {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = bearer_client(responder).post(url(sla_incident, "pause"), {"reason": "  "},
                                             format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert not ClockPause.objects.exists()


def test_auditor_reads_but_may_not_pause(auditor, sla_incident):
    response = bearer_client(auditor).post(url(sla_incident, "pause"), {"reason": "x"},
                                           format="json")
    assert response.status_code == 403
    assert not ClockPause.objects.exists()


def test_hidden_incident_is_404(responder, outsider, commander, enterprise):
    restricted = declare(by=commander, customer_tiers=[enterprise], restricted=True)
    for user in (responder, outsider):
        client = bearer_client(user)
        assert client.get(url(restricted)).status_code == 404
        assert client.post(url(restricted, "pause"), {"reason": "x"},
                           format="json").status_code == 404
