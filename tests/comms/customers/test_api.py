import pytest
from rest_framework.test import APIClient

from comms.customers import services
from comms.models import Customer
from incidents.models import EntryKind


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


BODY = {"name": "Globex", "tier": "enterprise", "csm": "csm",
        "contacts": [{"name": "Hank", "email": "hank@globex.example.com", "role": "CEO"}],
        "contract_targets": [{"severity": "P1", "response_minutes": 15,
                              "resolution_minutes": 240}]}


def test_upsert_creates_then_updates_then_leaves_unchanged(csm, tier):
    client = api(csm)
    url = "/api/v1/customers/external/crm-0002/"
    created = client.put(url, BODY, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["external_id"] == "crm-0002"
    assert created.json()["contacts"] == [{"name": "Hank", "email": "hank@globex.example.com",
                                           "role": "CEO", "receives_updates": True}]
    changed = client.put(url, {**BODY, "name": "Globex Corp", "contacts": []}, format="json")
    assert changed.status_code == 200
    customer = Customer.objects.get(external_id="crm-0002")
    assert customer.name == "Globex Corp" and not customer.contacts.exists()
    assert customer.contract_targets.get().resolution_minutes == 240
    assert client.put(url, {**BODY, "name": "Globex Corp", "contacts": []},
                      format="json").status_code == 200
    assert Customer.objects.count() == 1


def test_field_level_400s(csm, tier):
    client = api(csm)
    response = client.put("/api/v1/customers/external/crm-9/", {
        "name": "", "tier": "platinum",
        "contacts": [{"name": "X", "email": "not-an-email"}]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"name", "tier", "contacts"}
    assert body["contacts"] == ["Contact 1: email: Enter a valid email address."]
    response = client.post("/api/v1/customers/", {**BODY, "contract_targets": [
        {"severity": "P1", "response_minutes": 5}, {"severity": "P1", "response_minutes": 6}]},
        format="json")
    assert response.status_code == 400
    assert response.json() == {"contract_targets": ["P1 is listed twice."]}
    assert not Customer.objects.exists()


def test_create_with_taken_external_id_is_400(csm, acme):
    response = api(csm).post("/api/v1/customers/", {**BODY, "external_id": "crm-0001"},
                             format="json")
    assert response.status_code == 400 and "external_id" in response.json()


def test_list_retrieve_and_delete(csm, acme, auditor):
    listing = api(auditor).get("/api/v1/customers/").json()
    rows = listing["results"] if isinstance(listing, dict) else listing
    assert [c["name"] for c in rows] == ["Acme Corp"]
    assert rows[0]["contract_targets"] == [
        {"severity": "P1", "response_minutes": 10, "resolution_minutes": 120}]
    assert api(auditor).delete(f"/api/v1/customers/{acme.pk}/").status_code == 403
    assert api(csm).delete(f"/api/v1/customers/{acme.pk}/").status_code == 204
    assert not Customer.objects.exists()


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_auditor_and_responder_cannot_write(auditor, responder, acme, method):
    for user in (auditor, responder):
        url = ("/api/v1/customers/" if method == "post" else f"/api/v1/customers/{acme.pk}/")
        response = getattr(api(user), method)(url, BODY, format="json")
        assert response.status_code == 403
        assert api(user).put("/api/v1/customers/external/crm-0001/", BODY,
                             format="json").status_code == 403
    assert Customer.objects.get().name == "Acme Corp"


def test_outsider_cannot_read(outsider, acme):
    assert api(outsider).get("/api/v1/customers/").status_code == 403


def test_incident_customers_get_and_put_by_id_or_external_id(csm, responder, incident, acme,
                                                             initech):
    url = f"/api/v1/incidents/{incident.pk}/customers/"
    response = api(csm).put(url, {"customers": [acme.pk, "crm-0003"]}, format="json")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()] == ["Acme Corp", "Initech"]
    assert incident.timeline.filter(kind=EntryKind.CUSTOMERS).count() == 1
    got = api(responder).get(url).json()
    assert got[0] == {"id": acme.pk, "external_id": "crm-0001", "name": "Acme Corp",
                      "tier": "enterprise", "csm": "csm"}


def test_incident_customers_unknown_is_400(csm, incident):
    response = api(csm).put(f"/api/v1/incidents/{incident.pk}/customers/",
                            {"customers": [123456, "nope", True]}, format="json")
    assert response.status_code == 400
    assert "customers" in response.json()


def test_incident_customers_hidden_incident_is_404(csm, responder, restricted_incident, acme):
    url = f"/api/v1/incidents/{restricted_incident.pk}/customers/"
    for user in (csm, responder):
        assert api(user).get(url).status_code == 404
        assert api(user).put(url, {"customers": [acme.pk]}, format="json").status_code == 404
    assert not restricted_incident.customers.exists()


def test_auditor_cannot_put_incident_customers(auditor, incident, acme):
    url = f"/api/v1/incidents/{incident.pk}/customers/"
    assert api(auditor).put(url, {"customers": [acme.pk]}, format="json").status_code == 403
    assert api(auditor).get(url).json() == []


def test_set_customers_via_api_reaches_service(csm, incident, acme):
    services.set_customers(incident, [acme], by=csm)
    response = api(csm).put(f"/api/v1/incidents/{incident.pk}/customers/", {"customers": []},
                            format="json")
    assert response.json() == [] and not incident.customers.exists()


def test_a_customer_named_on_an_incident_is_not_deleted(csm, acme, incident, client, admin_user):
    services.set_customers(incident, [acme], by=csm)
    refused = api(csm).delete(f"/api/v1/customers/{acme.pk}/")
    assert refused.status_code == 409
    assert f"INC-{incident.pk}" in str(refused.json())
    assert list(incident.customers.all()) == [acme]
    client.force_login(admin_user)
    assert client.post(f"/admin/comms/customer/{acme.pk}/delete/",
                       {"post": "yes"}).status_code == 403
    assert list(incident.customers.all()) == [acme]
