"""Configuration writes of intake go through intake.services whichever path makes them: the rule
holds on every path, and every path mints keys through create_integration."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from incidents.intake import keys, services
from incidents.models import AlertRule, Integration, MaintenanceWindow, MatchOperator
from tests.incidents.conftest import make_integration
from tests.incidents.intake.test_api import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(monkeypatch):
    """Record each call of the named service functions, then run the real one."""
    recorded = []

    def spy(name):
        real = getattr(services, name)

        def wrapper(**kwargs):
            recorded.append((name, kwargs))
            return real(**kwargs)
        monkeypatch.setattr(services, name, wrapper)

    for name in ("create_integration", "rotate_integration_key", "update_integration",
                 "create_maintenance_window", "update_service_settings", "save_rule"):
        spy(name)
    return recorded


def _names(calls):
    return [name for name, _ in calls]


def _assert_only_hash_stored(key):
    integration = Integration.objects.get(key_hash=keys.hash_key(key))
    stored = [str(value) for value in Integration.objects.filter(pk=integration.pk).values()[0]
              .values()]
    assert key not in stored
    assert keys.find_integration(key).id == integration.pk


# --- keys: one minting path ---------------------------------------------------------------------


def test_portal_mints_keys_through_create_integration(client, responder, service, calls):
    client.force_login(responder)
    html = client.post(f"/services/{service.slug}/integrations/",
                       {"name": "Prometheus", "format": "alertmanager"}, follow=True)
    key = html.content.decode().split('id="new-key-value">')[1].split("<")[0]
    assert _names(calls) == ["create_integration"]
    assert calls[0][1]["by"] == responder
    _assert_only_hash_stored(key)


def test_portal_heartbeat_mints_its_key_through_create_integration(client, responder, service,
                                                                    calls):
    client.force_login(responder)
    client.post(f"/services/{service.slug}/heartbeats/",
                {"name": "backup", "interval_minutes": 60, "grace_minutes": 5})
    assert _names(calls) == ["create_integration"]
    assert calls[0][1]["format"] == "heartbeat"


def test_admin_mints_keys_through_create_integration(client, admin_user, service, calls):
    client.force_login(admin_user)
    html = client.post("/admin/incidents/integration/add/", {
        "service": service.pk, "name": "Admin-made", "format": "generic", "enabled": "on",
        "rate_limit_per_minute": 100, "email_dedup": "message_id"}, follow=True)
    key = html.content.decode().split("Key for “Admin-made”: ")[1].split(" ")[0]
    assert _names(calls) == ["create_integration"]
    assert calls[0][1]["by"] == admin_user
    _assert_only_hash_stored(key)
    assert Integration.objects.get(name="Admin-made").rate_limit_per_minute == 100


def test_api_mints_keys_through_create_integration(responder, service, calls):
    response = bearer(responder).post("/api/v1/integrations/", {
        "service": service.slug, "name": "prom", "format": "alertmanager",
        "rate_limit_per_minute": 50}, format="json")
    assert response.status_code == 201
    assert _names(calls) == ["create_integration"]
    _assert_only_hash_stored(response.json()["key"])
    assert response.json()["rate_limit_per_minute"] == 50


def test_command_mints_keys_through_create_integration(service, calls):
    out = StringIO()
    call_command("create_integration", service.slug, "generic", stdout=out, stderr=StringIO())
    assert _names(calls) == ["create_integration"]
    assert calls[0][1]["by"] is None
    _assert_only_hash_stored(out.getvalue().strip())


def test_every_path_rotates_through_rotate_integration_key(client, responder, admin_user,
                                                           service, calls):
    integration, old = make_integration(service)
    calls.clear()
    client.force_login(responder)
    client.post(f"/services/{service.slug}/integrations/{integration.pk}/rotate/")
    bearer(responder).post(f"/api/v1/integrations/{integration.pk}/rotate/")
    client.force_login(admin_user)
    client.post("/admin/incidents/integration/", {
        "action": "rotate_keys", "_selected_action": [integration.pk]})
    assert _names(calls) == ["rotate_integration_key"] * 3
    assert keys.find_integration(old) is None


def test_disabling_an_integration_stops_its_key_at_once(service):
    integration, key = make_integration(service)
    assert keys.find_integration(key) is not None  # now cached
    services.set_integration_enabled(by=None, integration=integration, enabled=False)
    assert keys.find_integration(key) is None


def test_api_update_goes_through_the_service(responder, service, calls):
    integration, key = make_integration(service)
    calls.clear()
    response = bearer(responder).patch(f"/api/v1/integrations/{integration.pk}/",
                                       {"enabled": False}, format="json")
    assert response.status_code == 200
    assert _names(calls) == ["update_integration"]
    assert keys.find_integration(key) is None


# --- service settings ---------------------------------------------------------------------------


def test_service_settings_from_the_portal_and_the_api_use_the_service(client, responder,
                                                                      service, calls):
    client.force_login(responder)
    response = client.post(f"/services/{service.slug}/settings/", {
        "name": service.name, "slug": service.slug, "group_by": "service",
        "group_window_minutes": 30, "flap_threshold": 3, "flap_window_minutes": 60})
    assert response.status_code == 302
    response = bearer(responder).patch(f"/api/v1/services/{service.slug}/",
                                       {"group_window_minutes": 45}, format="json")
    assert response.status_code == 200
    assert _names(calls) == ["update_service_settings"] * 2
    service.refresh_from_db()
    assert service.group_window_minutes == 45


def test_update_service_settings_refuses_what_the_model_refuses(service):
    with pytest.raises(ValidationError) as error:
        services.update_service_settings(by=None, service=service, runbook_url="not a url")
    assert "runbook_url" in error.value.message_dict


# --- maintenance windows: the window ends after it starts ---------------------------------------


def test_window_rule_holds_in_the_service(service):
    now = timezone.now()
    with pytest.raises(ValidationError) as error:
        services.create_maintenance_window(by=None, service=service, starts_at=now,
                                           ends_at=now - timedelta(hours=1), reason="oops")
    assert error.value.message_dict == {"ends_at": ["The window must end after it starts."]}
    assert MaintenanceWindow.objects.count() == 0


def test_window_rule_shows_beside_its_field_in_the_portal(client, responder, service, calls):
    client.force_login(responder)
    response = client.post(f"/services/{service.slug}/maintenance/", {
        "starts_at": "2026-11-24T10:00", "ends_at": "2026-11-24T09:00", "reason": "oops"})
    assert response.status_code == 400
    assert response.context["window_form"].errors["ends_at"] == [
        "The window must end after it starts."]
    assert MaintenanceWindow.objects.count() == 0


def test_window_rule_holds_in_the_admin(client, admin_user, service, calls):
    client.force_login(admin_user)
    data = {"service": service.pk, "reason": "oops",
            "starts_at_0": "2026-11-24", "starts_at_1": "10:00",
            "ends_at_0": "2026-11-24", "ends_at_1": "09:00"}
    response = client.post("/admin/incidents/maintenancewindow/add/", data)
    assert response.status_code == 200
    assert "The window must end after it starts." in response.content.decode()
    assert MaintenanceWindow.objects.count() == 0
    data["ends_at_1"] = "11:00"
    assert client.post("/admin/incidents/maintenancewindow/add/", data).status_code == 302
    assert _names(calls) == ["create_maintenance_window"]
    assert MaintenanceWindow.objects.get().created_by == admin_user


def test_portal_window_is_created_by_the_service(client, responder, service, calls):
    client.force_login(responder)
    client.post(f"/services/{service.slug}/maintenance/", {
        "starts_at": "2026-11-24T10:00", "ends_at": "2026-11-24T11:00", "reason": "upgrade"})
    assert _names(calls) == ["create_maintenance_window"]
    assert MaintenanceWindow.objects.get().created_by == responder


# --- alert rules --------------------------------------------------------------------------------


def _rule(**fields):
    return AlertRule(name="bad", position=1, match_field="summary", value="x",
                     action="drop", **fields)


def test_rule_rules_hold_in_the_service():
    with pytest.raises(ValidationError) as error:
        services.save_rule(by=None, rule=_rule(), operator=MatchOperator.REGEX, value="(")
    assert "value" in error.value.message_dict
    assert AlertRule.objects.count() == 0


def test_rule_rules_hold_in_the_admin(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/incidents/alertrule/add/", {
        "name": "bad", "position": 1, "enabled": "on", "match_field": "summary",
        "operator": "regex", "value": "(", "action": "drop", "time_zone": "UTC"})
    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()
    assert AlertRule.objects.count() == 0


def test_portal_and_admin_save_rules_through_the_service(client, admin_user, calls):
    client.force_login(admin_user)
    rule = {"name": "quiet", "position": 1, "enabled": "on", "match_field": "summary",
            "operator": "contains", "value": "noise", "action": "drop", "time_zone": "UTC"}
    assert client.post("/admin/incidents/alertrule/add/", rule).status_code == 302
    assert client.post("/rules/new/", {**rule, "name": "quiet 2"}).status_code == 302
    assert _names(calls) == ["save_rule", "save_rule"]
    assert AlertRule.objects.count() == 2
    services.delete_rule(by=None, rule=AlertRule.objects.first())
    assert AlertRule.objects.count() == 1
