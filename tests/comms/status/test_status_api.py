"""REST API of the status page's components and maintenance: the same rules as the staff pages,
bad input answered 400 with the field, and nothing stored then."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from comms.models import (
    Component,
    ComponentChange,
    ComponentStatus,
    Maintenance,
    MaintenanceState,
    MaintenanceUpdate,
)
from comms.status import maintenance as engine
from comms.status import notices, services
from incidents.models import MaintenanceWindow

pytestmark = pytest.mark.django_db
COMPONENTS = "/api/v1/status/components/"
MAINTENANCES = "/api/v1/status/maintenances/"


@pytest.fixture(autouse=True)
def heard(monkeypatch):
    calls = []
    monkeypatch.setattr(notices, "for_maintenance",
                        lambda m, kind, update=None: calls.append((m.pk, str(kind))))
    return calls


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# Tomorrow on the hour, read once: every time a test names lies this many hours from it.
BASE = timezone.now().replace(minute=0, second=0, microsecond=0)


def _when(hours=24):
    return BASE + timedelta(hours=hours)


def _body(component, **extra):
    return {"name": "Database upgrade", "body": "Checkout may be slow.",
            "components": [component.code], "starts_at": _when().isoformat(),
            "ends_at": _when(26).isoformat(), **extra}


def test_anonymous_is_refused(component):
    assert api().get(COMPONENTS).status_code in (401, 403)


def test_everyone_lists_components_with_their_status_in_constant_queries(
        responder, component, other_component, service):
    api(responder).get(COMPONENTS)  # the caller's permissions are cached on the first call
    with CaptureQueriesContext(connection) as few:
        response = api(responder).get(COMPONENTS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["name"], r["group"], r["status"]) for r in rows] == [
        ("Checkout", "Payments", "operational"), ("Dashboard", "Payments", "operational")]
    assert rows[0]["services"] == ["checkout-api"]
    for n in range(5):
        Component.objects.create(name=f"Extra {n}").services.add(service)
    with CaptureQueriesContext(connection) as many:
        assert len(api(responder).get(COMPONENTS).json()["results"]) == 7
    assert len(many) == len(few)
    one = api(responder).get(f"{COMPONENTS}{component.code}/").json()
    assert (one["code"], one["name"]) == (component.code, "Checkout")


def test_csm_sets_a_component_by_hand(csm, component):
    response = api(csm).patch(f"{COMPONENTS}{component.code}/",
                              {"status": "major_outage", "note": "Card payments fail"},
                              format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "major_outage"
    change = ComponentChange.objects.get()
    assert (change.new_status, change.note, change.by) == ("major_outage",
                                                           "Card payments fail", csm)


def test_responder_cannot_set_a_component(responder, component):
    response = api(responder).patch(f"{COMPONENTS}{component.code}/",
                                    {"status": "major_outage"}, format="json")
    assert response.status_code == 403
    component.refresh_from_db()
    assert component.status == ComponentStatus.OPERATIONAL


@pytest.mark.parametrize("body,field", [
    ({"status": "on_fire"}, "status"),
    ({}, "status"),
    ({"status": "major_outage", "note": "x" * 501}, "note"),
    ({"status": ["major_outage"]}, "status"),
])
def test_bad_status_input_is_400_with_the_field(csm, component, body, field):
    response = api(csm).patch(f"{COMPONENTS}{component.code}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not ComponentChange.objects.exists()


def test_unknown_component_is_404(csm):
    assert api(csm).get(f"{COMPONENTS}zzzzzzzzzzzz/").status_code == 404


def test_csm_schedules_maintenance_with_windows(csm, component, service, heard):
    response = api(csm).post(MAINTENANCES, _body(component, windows=True), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["name"], data["state"], data["components"]) == (
        "Database upgrade", "scheduled", [component.code])
    assert data["windows"] == ["checkout-api"]
    assert [u["state"] for u in data["updates"]] == ["scheduled"]
    row = Maintenance.objects.get()
    assert row.next_action_at == _when() - timedelta(minutes=60)
    assert heard == [(row.pk, "scheduled")]
    listed = api(csm).get(MAINTENANCES).json()["results"]
    assert [m["code"] for m in listed] == [row.code]


def test_responder_cannot_schedule_maintenance(responder, component):
    response = api(responder).post(MAINTENANCES, _body(component), format="json")
    assert response.status_code == 403
    assert not Maintenance.objects.exists()


@pytest.mark.parametrize("change,field", [
    ({"ends_at": "yesterday"}, "ends_at"),
    ({"components": ["zzzzzzzzzzzz"]}, "components"),
    ({"components": ["\x00"]}, "components"),
    ({"verify_minutes": 10**6}, "verify_minutes"),
    ({"starts_at": "0001-01-01T00:00:00Z"}, "starts_at"),
    ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
    ({"name": ""}, "name"),
])
def test_bad_maintenance_input_is_400_with_the_field(csm, component, change, field):
    response = api(csm).post(MAINTENANCES, _body(component, **change), format="json")
    assert response.status_code == 400
    # The strict JSON parser names the item itself: "components[0]".
    assert any(key.startswith(field) for key in response.json()), response.json()
    assert not Maintenance.objects.exists()
    assert not MaintenanceWindow.objects.exists()


def test_patch_moves_the_maintenance_and_its_windows(csm, component):
    row = services.schedule(by=csm, name="Upgrade", body="x", components=[component],
                            starts_at=_when(), ends_at=_when(26), windows=True)
    response = api(csm).patch(f"{MAINTENANCES}{row.code}/",
                              {"starts_at": _when(48).isoformat(),
                               "ends_at": _when(49).isoformat()}, format="json")
    assert response.status_code == 200, response.json()
    window = MaintenanceWindow.objects.get()
    assert (window.starts_at, window.ends_at) == (_when(48), _when(49))
    response = api(csm).patch(f"{MAINTENANCES}{row.code}/", {"ends_at": _when(47).isoformat()},
                              format="json")
    assert response.status_code == 400
    assert response.json()["ends_at"] == ["The maintenance must end after it starts."]


def test_updates_and_early_completion(csm, responder, component):
    now = timezone.now()
    row = services.schedule(by=csm, name="Upgrade", body="x", components=[component],
                            starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1))
    assert api(responder).post(f"{MAINTENANCES}{row.code}/updates/", {"body": "Hi"},
                               format="json").status_code == 403
    response = api(csm).post(f"{MAINTENANCES}{row.code}/updates/", {"body": "Halfway."},
                             format="json")
    assert response.status_code == 201
    assert response.json()["body"] == "Halfway."
    engine.advance(row.pk, timezone.now())
    response = api(csm).post(f"{MAINTENANCES}{row.code}/complete/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == MaintenanceState.COMPLETED
    assert MaintenanceUpdate.objects.filter(maintenance=row, state="completed").count() == 1
    again = api(csm).post(f"{MAINTENANCES}{row.code}/complete/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == "The maintenance is already completed."
    response = api(csm).patch(f"{MAINTENANCES}{row.code}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 409
    assert Maintenance.objects.get().name == "Upgrade"


def test_bad_items_in_the_component_list_are_sentences_under_the_field(csm, component):
    response = api(csm).post(MAINTENANCES, _body(component, components=[component.code, "x", "y"]),
                             format="json")
    assert response.status_code == 400
    assert response.json()["components"] == [
        "Item 2: This value does not match the required pattern.",
        "Item 3: This value does not match the required pattern."]
