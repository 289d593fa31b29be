"""The REST API of customer messages and the cadence: same services, HTTP answers."""

import pytest
from rest_framework.test import APIClient

from comms.messages import services
from comms.models import CustomerMessage, MessageState
from tests.comms.messages.conftest import affect


@pytest.fixture
def api():
    return APIClient()


def _as(api, user):
    api.force_authenticate(user)
    return api


def _new(incident, **kwargs):
    return {"phase": "investigating", "subject": "Checkout slow", "body": "Looking into it.",
            **kwargs}


def test_create_list_and_detail(api, incident, responder):
    client = _as(api, responder)
    created = client.post(f"/api/v1/incidents/{incident.pk}/messages/", _new(incident),
                          format="json")
    assert created.status_code == 201
    body = created.json()
    assert (body["author"], body["state"], body["version"]) == ("responder", "draft", 1)
    listed = client.get(f"/api/v1/incidents/{incident.pk}/messages/").json()
    assert [m["id"] for m in listed] == [body["id"]]
    detail = client.get(f"/api/v1/messages/{body['id']}/").json()
    assert detail["subject"] == "Checkout slow" and detail["deliveries"] == []


def test_auditor_cannot_draft(api, incident, auditor):
    response = _as(api, auditor).post(f"/api/v1/incidents/{incident.pk}/messages/",
                                      _new(incident), format="json")
    assert response.status_code == 403
    assert "cannot draft" in response.json()["detail"]


def test_patch_requires_the_version_and_refuses_a_stale_one(api, incident, csm):
    message = services.draft(incident, by=csm, **_new(incident))
    client = _as(api, csm)
    missing = client.patch(f"/api/v1/messages/{message.pk}/", {"body": "New"}, format="json")
    assert missing.status_code == 400 and "version" in missing.json()
    ok = client.patch(f"/api/v1/messages/{message.pk}/", {"body": "New", "version": 1},
                      format="json")
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = client.patch(f"/api/v1/messages/{message.pk}/", {"body": "Old", "version": 1},
                         format="json")
    assert stale.status_code == 409
    assert "Someone else changed this message" in stale.json()["detail"]
    message.refresh_from_db()
    assert message.body == "New"


def test_approval_flow_over_the_api(api, incident, tier, csm, csm2, smtp_server,
                                    django_capture_on_commit_callbacks):
    affect(incident, tier, approval=True)
    message = services.draft(incident, by=csm, **_new(incident))
    client = _as(api, csm)
    refused = client.post(f"/api/v1/messages/{message.pk}/publish/")
    assert refused.status_code == 409 and "second person" in refused.json()["detail"]
    assert client.post(f"/api/v1/messages/{message.pk}/submit/").json()["state"] == "pending"
    own = client.post(f"/api/v1/messages/{message.pk}/approve/")
    assert own.status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        approved = _as(APIClient(), csm2).post(f"/api/v1/messages/{message.pk}/approve/")
    assert approved.status_code == 200
    body = approved.json()
    assert (body["state"], body["approved_by"]) == ("published", "csm2")
    assert [d["email"] for d in body["deliveries"]] == ["ops@acme.test"]
    assert len(smtp_server) == 1
    detail = client.get(f"/api/v1/messages/{message.pk}/").json()
    assert [(d["status"], d["attempts"]) for d in detail["deliveries"]] == [("delivered", 1)]


def test_no_recipients_is_400_with_a_sentence(api, incident, csm):
    message = services.draft(incident, by=csm, **_new(incident))
    response = _as(api, csm).post(f"/api/v1/messages/{message.pk}/publish/")
    assert response.status_code == 400
    assert "No affected customer has a contact" in response.json()["detail"]
    assert CustomerMessage.objects.get().state == MessageState.DRAFT


def test_restricted_incident_is_404(api, restricted_incident, commander, csm):
    message = services.draft(restricted_incident, by=commander, **_new(restricted_incident))
    client = _as(api, csm)
    for method, url in (("get", f"/api/v1/incidents/{restricted_incident.pk}/messages/"),
                        ("get", f"/api/v1/incidents/{restricted_incident.pk}/cadence/"),
                        ("get", f"/api/v1/messages/{message.pk}/"),
                        ("post", f"/api/v1/messages/{message.pk}/discard/")):
        assert getattr(client, method)(url).status_code == 404, url


def test_cadence_get_and_put(api, incident, csm, responder):
    url = f"/api/v1/incidents/{incident.pk}/cadence/"
    assert _as(api, csm).get(url).json()["minutes"] == 120
    assert _as(APIClient(), responder).put(url, {"minutes": 30}, format="json").status_code == 403
    bad = _as(api, csm).put(url, {"minutes": 1}, format="json")
    assert bad.status_code == 400 and "minutes" in bad.json()
    done = _as(api, csm).put(url, {"minutes": 30}, format="json").json()
    assert (done["minutes"], done["set_by"]) == (30, "csm")
