"""Provisioning as code: services and integrations through the API and manage.py commands."""

import io
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.models import ApiToken
from incidents.intake import keys
from incidents.models import Alert, Integration, Service
from tests.incidents.conftest import make_integration
from tests.incidents.intake.test_formats import EMAIL

pytestmark = pytest.mark.django_db


def bearer(user) -> APIClient:
    _, raw = ApiToken.issue(user, "ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_api_creates_service_and_integration_returning_key_once(responder, team):
    client = bearer(responder)
    response = client.post("/api/v1/services/", {"name": "Billing", "slug": "billing",
                                                 "team": team.slug}, format="json")
    assert response.status_code == 201, response.json()
    response = client.post("/api/v1/integrations/", {"service": "billing", "name": "prom",
                                                     "format": "alertmanager"}, format="json")
    assert response.status_code == 201
    key = response.json()["key"]
    assert keys.find_integration(key, "alertmanager").service_id == Service.objects.get(
        slug="billing").pk
    listed = client.get("/api/v1/integrations/").json()["results"]
    assert listed[0]["key_prefix"] == key[:8]
    assert "key" not in listed[0]
    detail = client.get(f"/api/v1/integrations/{listed[0]['id']}/").json()
    assert "key" not in detail


def test_api_rotate_returns_a_new_key_and_the_old_one_stops(responder, service):
    integration, old = make_integration(service)
    response = bearer(responder).post(f"/api/v1/integrations/{integration.pk}/rotate/")
    assert response.status_code == 200
    assert keys.find_integration(old) is None
    assert keys.find_integration(response.json()["key"]).id == integration.pk


def test_api_rejects_unknown_format_with_field_error(responder, service):
    response = bearer(responder).post("/api/v1/integrations/", {
        "service": service.slug, "name": "x", "format": "nagios"}, format="json")
    assert response.status_code == 400
    assert "format" in response.json()


@pytest.mark.parametrize("persona", ["auditor", "csm"])
def test_api_writes_are_403_for_read_only_roles(request, persona, service):
    client = bearer(request.getfixturevalue(persona))
    assert client.get("/api/v1/services/").status_code == 200
    assert client.post("/api/v1/services/", {"name": "X", "slug": "x"},
                       format="json").status_code == 403
    assert client.post("/api/v1/integrations/", {"service": service.slug, "name": "x",
                                                 "format": "generic"},
                       format="json").status_code == 403
    assert Integration.objects.count() == 0


def test_api_lists_are_closed_to_outsiders(outsider):
    assert bearer(outsider).get("/api/v1/integrations/").status_code == 403


def test_api_integrations_are_in_the_openapi_schema(commander):
    client = APIClient()
    client.force_authenticate(commander)
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()[
        "paths"]
    assert "/api/v1/integrations/{id}/rotate/" in paths
    assert "/api/v1/services/" in paths


def test_create_integration_command_prints_a_working_key(service):
    out = StringIO()
    call_command("create_integration", service.slug, "pagerduty", stdout=out, stderr=StringIO())
    key = out.getvalue().strip()
    assert len(key) == 32
    assert keys.find_integration(key, "pagerduty").service_id == service.pk


@pytest.mark.parametrize(("args", "message"), [
    (["nope", "generic"], "There is no service with the slug 'nope'."),
    (["checkout-api", "nagios"], "Unknown format 'nagios'"),
])
def test_create_integration_command_explains_bad_input(service, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_integration", *args, stdout=StringIO(), stderr=StringIO())
    assert Integration.objects.count() == 0


def _stdin(monkeypatch, data: bytes):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_ingest_email_command_reads_a_message_from_stdin(monkeypatch, service):
    _, key = make_integration(service, "email")
    _stdin(monkeypatch, EMAIL)
    out = StringIO()
    call_command("ingest_email", key, stdout=out)
    assert "new alert" in out.getvalue()
    alert = Alert.objects.get()
    assert alert.summary.startswith("** PROBLEM")
    assert alert.incident is not None


def test_ingest_email_command_with_unknown_key_fails_with_a_sentence(monkeypatch, service):
    _stdin(monkeypatch, EMAIL)
    with pytest.raises(CommandError, match="No enabled email integration has this key"):
        call_command("ingest_email", "0" * 32, stdout=StringIO())


def test_ingest_email_command_rejects_a_message_without_subject(monkeypatch, service):
    _, key = make_integration(service, "email")
    _stdin(monkeypatch, b"From: cron@db\n\nbackup failed\n")
    with pytest.raises(CommandError, match="Subject"):
        call_command("ingest_email", key, stdout=StringIO())
    assert Alert.objects.count() == 0


def test_admin_creates_integration_and_shows_the_key_once(client, admin_user, service):
    client.force_login(admin_user)
    response = client.post("/admin/incidents/integration/add/", {
        "service": service.pk, "name": "Admin-made", "format": "generic", "enabled": "on",
        "rate_limit_per_minute": 100, "email_dedup": "message_id"}, follow=True)
    html = response.content.decode()
    integration = Integration.objects.get(name="Admin-made")
    key = html.split("Key for “Admin-made”: ")[1].split(" ")[0]
    assert keys.find_integration(key).id == integration.pk
    assert key not in client.get("/admin/incidents/integration/").content.decode()


def test_api_sets_a_grafana_signing_secret_and_never_returns_it(responder, service):
    client = bearer(responder)
    response = client.post("/api/v1/integrations/", {
        "service": service.slug, "name": "grafana", "format": "grafana",
        "signing_secret": "s3cret"}, format="json")
    assert response.status_code == 201
    assert "signing_secret" not in response.json()
    integration = Integration.objects.get(pk=response.json()["id"])
    assert integration.signing_secret == "s3cret"
    assert keys.find_integration(response.json()["key"]).signing_secret == "s3cret"
    response = client.patch(f"/api/v1/integrations/{integration.pk}/",
                            {"signing_secret": "rotated"}, format="json")
    assert response.status_code == 200
    assert "signing_secret" not in response.json()
    integration.refresh_from_db()
    assert integration.signing_secret == "rotated"


@pytest.mark.parametrize("url", ["https://wiki.example.test/Kassé", "https://wiki.example.test/a|b",
                                 "https://wiki.example.test/[draft]"])
def test_api_refuses_runbook_url_that_is_not_a_uri(url, responder, service):
    # The API documents the runbook URL as a URI; Django's URLField alone lets these through.
    response = bearer(responder).patch(f"/api/v1/services/{service.slug}/",
                                       {"runbook_url": url}, format="json")
    assert response.status_code == 400
    assert "runbook_url" in response.json()
    service.refresh_from_db()
    assert service.runbook_url == "https://runbooks.example.test/checkout"


def test_api_accepts_percent_encoded_runbook_url_and_clearing_it(responder, service):
    client = bearer(responder)
    url = "https://wiki.example.test/Kass%C3%A9?page=1#steps"
    response = client.patch(f"/api/v1/services/{service.slug}/", {"runbook_url": url},
                            format="json")
    assert response.json()["runbook_url"] == url
    response = client.patch(f"/api/v1/services/{service.slug}/", {"runbook_url": ""},
                            format="json")
    assert response.json()["runbook_url"] == ""


def test_urls_matching_no_route_answer_json_under_api_and_intake_only(client, db):
    api = client.get("/api/v1/services/not.a.slug/extra/")
    intake_url = client.post("/integrations/pagerduty/v2/enqueue/extra")
    page = client.get("/no-such-page/")
    assert (api.status_code, api.json()) == (404, {"detail": "Not found."})
    assert (intake_url.status_code, intake_url.json()["status"]) == (404, "not found")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
