"""Portal pages of alert intake: the incident's alert panel, services and integrations, keys
shown once, role checks, and constant query counts."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.intake import keys, pipeline
from incidents.models import (
    ChangeEvent,
    Integration,
    MaintenanceWindow,
    Service,
)
from tests.conftest import declare
from tests.incidents.conftest import make_integration

pytestmark = pytest.mark.django_db


def send(client, key, **body):
    body.setdefault("summary", "Checkout 5xx above 5%")
    return client.post(f"/integrations/generic/{key}/", data=json.dumps(body),
                       content_type="application/json")


def test_incident_alert_panel_lists_alerts_with_count_and_source(client, commander, generic_key):
    for _ in range(3):
        send(client, generic_key, dedup_key="x", source="web-1",
             source_url="https://grafana.example.test/d/1")
    incident = pipeline.Alert.objects.get().incident
    client.force_login(commander)
    response = client.get(f"/incidents/{incident.pk}/alerts/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Checkout 5xx above 5%" in html
    assert '<td class="count">3</td>' in html
    assert 'href="https://grafana.example.test/d/1"' in html
    assert "<html" not in html  # htmx gets the fragment only


def test_incident_page_loads_the_alert_panel_and_links_to_it(client, commander, incident):
    client.force_login(commander)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'href="/incidents/{incident.pk}/alerts/"' in html
    assert f'hx-get="/incidents/{incident.pk}/alerts/"' in html


def test_what_changed_recently_shows_changes_before_start_only_for_its_services(
        client, commander, service, team):
    other = Service.objects.create(name="Search", slug="search", team=team)
    incident = declare(by=commander, services=[service])
    ChangeEvent.objects.create(service=service, summary="Deploy checkout v42",
                               happened_at=incident.started_at - timedelta(hours=1))
    ChangeEvent.objects.create(service=service, summary="Ancient deploy",
                               happened_at=incident.started_at - timedelta(hours=7))
    ChangeEvent.objects.create(service=other, summary="Search reindex",
                               happened_at=incident.started_at - timedelta(minutes=5))
    client.force_login(commander)
    html = client.get(f"/incidents/{incident.pk}/alerts/").content.decode()
    assert "Deploy checkout v42" in html
    assert "Ancient deploy" not in html
    assert "Search reindex" not in html


def test_maintenance_window_is_shown_and_nobody_paged(client, commander, service, generic_key):
    now = timezone.now()
    MaintenanceWindow.objects.create(service=service, starts_at=now - timedelta(minutes=5),
                                     ends_at=now + timedelta(hours=1), reason="DB upgrade")
    send(client, generic_key)
    incident = pipeline.Alert.objects.get().incident
    declared = incident.timeline.get(kind="declared")
    assert declared.data["paging"] is False
    client.force_login(commander)
    html = client.get(f"/incidents/{incident.pk}/alerts/").content.decode()
    assert "DB upgrade" in html
    timeline = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "during maintenance “DB upgrade”" in timeline


def test_alert_panel_of_a_restricted_incident_is_404_for_others(client, responder,
                                                                restricted_incident):
    client.force_login(responder)
    assert client.get(f"/incidents/{restricted_incident.pk}/alerts/").status_code == 404


@pytest.mark.parametrize("alerts", [2, 40])
def test_alert_panel_queries_are_constant(client, commander, generic_key, alerts,
                                          django_assert_max_num_queries):
    for i in range(alerts):
        send(client, generic_key, dedup_key=f"k{i}", summary=f"alert {i}")
    incident = pipeline.Alert.objects.first().incident
    client.force_login(commander)
    with django_assert_max_num_queries(10):
        response = client.get(f"/incidents/{incident.pk}/alerts/")
    assert f"alert {alerts - 1}" in response.content.decode()


def test_responder_creates_service_then_integration_and_sees_key_once(client, responder):
    client.force_login(responder)
    response = client.post("/services/", {
        "name": "Billing", "slug": "billing", "group_by": "service",
        "group_window_minutes": 240, "flap_threshold": 3, "flap_window_minutes": 60,
        "auto_resolve": "on"})
    assert response.status_code == 302
    response = client.post("/services/billing/integrations/",
                           {"name": "Prometheus", "format": "alertmanager"}, follow=True)
    html = response.content.decode()
    integration = Integration.objects.get(service__slug="billing")
    key = html.split('id="new-key-value">')[1].split("<")[0]
    assert keys.find_integration(key).id == integration.pk
    assert integration.key_hash == keys.hash_key(key)
    # Never shown again.
    assert key not in client.get("/services/billing/").content.decode()


def test_rotating_from_the_portal_shows_a_new_working_key(client, responder, service):
    integration, old = make_integration(service)
    client.force_login(responder)
    html = client.post(f"/services/{service.slug}/integrations/{integration.pk}/rotate/",
                       follow=True).content.decode()
    new = html.split('id="new-key-value">')[1].split("<")[0]
    assert new != old
    assert keys.find_integration(old) is None
    assert keys.find_integration(new).id == integration.pk


def test_invalid_service_form_is_400_with_field_error(client, responder):
    client.force_login(responder)
    response = client.post("/services/", {"name": "", "slug": "bad slug!"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


@pytest.mark.parametrize("persona", ["auditor", "csm"])
def test_read_only_roles_get_403_on_every_intake_write(client, persona, request, service):
    integration, _ = make_integration(service)
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/services/").status_code == 200
    for url, data in [
        ("/services/", {"name": "X", "slug": "x"}),
        (f"/services/{service.slug}/integrations/", {"name": "n", "format": "generic"}),
        (f"/services/{service.slug}/integrations/{integration.pk}/rotate/", {}),
        (f"/services/{service.slug}/heartbeats/", {"name": "n", "interval_minutes": 5,
                                                   "grace_minutes": 1}),
        (f"/services/{service.slug}/maintenance/", {}),
        (f"/services/{service.slug}/settings/", {}),
        ("/rules/new/", {"name": "r"}),
        ("/webhooks/", {"name": "w"}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert Integration.objects.count() == 1


def test_outsider_cannot_see_services(client, outsider):
    client.force_login(outsider)
    assert client.get("/services/").status_code == 403


def test_actions_refuse_get(client, responder, service):
    client.force_login(responder)
    assert client.get(f"/services/{service.slug}/integrations/").status_code == 405


def test_maintenance_window_must_end_after_start(client, responder, service):
    client.force_login(responder)
    response = client.post(f"/services/{service.slug}/maintenance/", {
        "starts_at": "2026-11-24T10:00", "ends_at": "2026-11-24T09:00", "reason": "oops"})
    assert response.status_code == 400
    assert "must end after it starts" in response.content.decode()
    assert MaintenanceWindow.objects.count() == 0


def test_alerts_of_restricted_incidents_stay_hidden_on_the_service_page(
        client, responder, service, generic_key):
    send(client, generic_key, summary="Secret breach signal")
    incident = pipeline.Alert.objects.get().incident
    incident.restricted = True
    incident.save()
    client.force_login(responder)
    assert "Secret breach signal" not in client.get(f"/services/{service.slug}/").content.decode()


def test_responder_adds_a_grafana_integration_with_a_signing_secret(client, responder, service):
    client.force_login(responder)
    response = client.post(f"/services/{service.slug}/integrations/", {
        "name": "Grafana", "format": "grafana", "signing_secret": "from-the-contact-point"},
        follow=True)
    assert response.status_code == 200
    integration = Integration.objects.get(service=service, format="grafana")
    assert integration.signing_secret == "from-the-contact-point"
    assert "from-the-contact-point" not in response.content.decode()
