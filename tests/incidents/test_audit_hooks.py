"""The audit log of intake, webhook and incident-access configuration: each change through the
portal, the API, the admin and the commands writes one entry (who, from where, what changed),
a refused change writes none, and no key or secret ever reaches the log."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from incidents.audit import SECRET, verify_log
from incidents.intake import keys
from incidents.intake import services as intake
from incidents.models import (
    AlertRule,
    AuditEntry,
    Heartbeat,
    Integration,
    MaintenanceWindow,
    MatchField,
    RuleAction,
    Service,
    Severity,
    WebhookSubscription,
)
from incidents.paging import escalation
from tests.conftest import declare, make_user
from tests.incidents.conftest import make_integration
from tests.oncall.conftest import add_contact, make_policy

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"


def the_entry(action: str) -> AuditEntry:
    [entry] = AuditEntry.objects.filter(action=action)
    return entry


def whole_log() -> str:
    """Every column of every entry, as JSON: what a secret must never be found in."""
    return json.dumps(list(AuditEntry.objects.values()), default=str)


def assert_nowhere(*secrets: str) -> None:
    log = whole_log()
    for secret in secrets:
        assert secret and secret not in log


def assert_origin(entry, user, source, ip=ADDRESS):
    assert (entry.actor, entry.actor_label, entry.source, entry.ip) == (
        user, user.username if user else "", source, ip)


def portal(user) -> Client:
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(user)
    return client


def api(user) -> APIClient:
    _, raw = ApiToken.issue(user, "ci")
    client = APIClient(REMOTE_ADDR=ADDRESS)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def admin(admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    return admin_user


def settings_form(service, **changes) -> dict:
    data = {"name": service.name, "slug": service.slug, "description": service.description,
            "team": service.team_id or "", "escalation_policy": "",
            "runbook_url": service.runbook_url, "auto_resolve": "on", "group_by": service.group_by,
            "group_window_minutes": service.group_window_minutes, "stale_alert_days": "",
            "flap_threshold": service.flap_threshold,
            "flap_window_minutes": service.flap_window_minutes}
    return {**data, **changes}


# --- services --------------------------------------------------------------------------------


def test_portal_service_create_logs_who_where_and_the_new_row(responder, team):
    response = portal(responder).post("/services/", settings_form(
        Service(name="Billing", slug="billing", team=team, runbook_url="")))
    assert response.status_code == 302
    entry = the_entry("service.create")
    assert_origin(entry, responder, "web")
    assert entry.before is None
    assert entry.after["slug"] == "billing" and entry.after["team"] == team.pk
    assert (entry.object_type, entry.object_id, entry.object_repr) == (
        "incidents.service", str(Service.objects.get(slug="billing").pk), "Billing")
    assert verify_log().intact


def test_portal_service_settings_log_only_the_changed_fields(responder, service):
    response = portal(responder).post(f"/services/{service.slug}/settings/",
                                      settings_form(service, group_window_minutes=30))
    assert response.status_code == 302
    entry = the_entry("service.update")
    assert_origin(entry, responder, "web")
    assert (entry.before, entry.after) == ({"group_window_minutes": 240},
                                           {"group_window_minutes": 30})


def test_refused_service_settings_write_no_entry(responder, service):
    response = portal(responder).post(f"/services/{service.slug}/settings/",
                                      settings_form(service, runbook_url="javascript:alert(1)"))
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(object_type="incidents.service").exists()


def test_saving_unchanged_settings_writes_no_entry(responder, service):
    assert portal(responder).post(f"/services/{service.slug}/settings/",
                                  settings_form(service)).status_code == 302
    assert not AuditEntry.objects.filter(action="service.update").exists()


def test_api_service_create_and_update_come_from_the_api(responder, team):
    client = api(responder)
    assert client.post("/api/v1/services/", {"name": "Billing", "slug": "billing",
                                             "team": team.slug}, format="json").status_code == 201
    assert client.patch("/api/v1/services/billing/", {"flap_threshold": 9},
                        format="json").status_code == 200
    created, updated = the_entry("service.create"), the_entry("service.update")
    assert_origin(created, responder, "api")
    assert_origin(updated, responder, "api")
    assert (updated.before, updated.after) == ({"flap_threshold": 3}, {"flap_threshold": 9})


def test_api_refused_service_writes_no_entry(responder):
    response = api(responder).post("/api/v1/services/", {
        "name": "Billing", "slug": "billing", "runbook_url": "file:///etc/passwd"},
        format="json")
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(object_type="incidents.service").exists()


def test_admin_service_create_and_delete_go_through_the_service(admin, team):
    client = portal(admin)
    response = client.post("/admin/incidents/service/add/", {
        **settings_form(Service(name="Search", slug="search", team=team, runbook_url="")),
        "auto_resolve": "on"})
    assert response.status_code == 302
    search = Service.objects.get(slug="search")
    response = client.post(f"/admin/incidents/service/{search.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Service.objects.filter(slug="search").exists()
    created, deleted = the_entry("service.create"), the_entry("service.delete")
    assert_origin(created, admin, "admin")
    assert_origin(deleted, admin, "admin")
    assert deleted.before["slug"] == "search" and deleted.after is None
    assert deleted.object_id == str(search.pk)


def test_deleting_a_service_logs_what_goes_with_it(admin, team):
    search = Service.objects.create(name="Search", slug="search", team=team)
    AlertRule.objects.create(name="quiet search", service=search, match_field=MatchField.ANY,
                             action=RuleAction.DROP)
    now = timezone.now()
    MaintenanceWindow.objects.create(service=search, starts_at=now, reason="Reindex",
                                     ends_at=now + timedelta(hours=1))
    WebhookSubscription.objects.create(name="search chat", service=search, events=[],
                                       url="https://hooks.example.test/s", secret="whsec-gone-1")
    response = portal(admin).post(f"/admin/incidents/service/{search.pk}/delete/",
                                  {"post": "yes"})
    assert response.status_code == 302 and not Service.objects.filter(slug="search").exists()
    assert the_entry("rule.delete").before["name"] == "quiet search"
    assert the_entry("maintenance_window.delete").before["reason"] == "Reindex"
    webhook = the_entry("webhook.delete")
    assert webhook.before["url"] == "https://hooks.example.test/s"
    for action in ("service.delete", "rule.delete", "maintenance_window.delete",
                   "webhook.delete"):
        assert_origin(the_entry(action), admin, "admin")
    assert_nowhere("whsec-gone-1")
    assert verify_log().intact


def test_every_model_a_service_deletion_takes_is_logged_by_name():
    # Django's own list of what cascades from a service: a new relation must be named in
    # intake.CASCADED (and decide its secrets) before a deletion can take it silently.
    from django.apps import apps

    cascading = {model for model in apps.get_models()
                 for field in model._meta.get_fields()
                 if field.is_relation and field.related_model is Service and field.concrete
                 and field.many_to_one and field.remote_field.on_delete.__name__ == "CASCADE"}
    assert cascading == set(intake.CASCADED)


# --- integrations and their keys ---------------------------------------------------------------


def test_portal_integration_create_names_the_secrets_but_never_holds_them(responder, service):
    client = portal(responder)
    response = client.post(f"/services/{service.slug}/integrations/", {
        "name": "grafana", "format": "grafana", "signing_secret": "hmac-shh-0123456789"})
    assert response.status_code == 302
    key = client.session["relay_intake_key_once"]["key"]
    integration = Integration.objects.get(name="grafana")
    entry = the_entry("integration.create")
    assert_origin(entry, responder, "web")
    assert entry.secrets_changed == ["key_hash", "signing_secret"]
    assert entry.after["key_hash"] == SECRET and entry.after["signing_secret"] == SECRET
    assert entry.after["format"] == "grafana" and entry.after["service"] == service.pk
    assert_nowhere(key, keys.hash_key(key), integration.key_hash, "hmac-shh-0123456789")


def test_portal_rotation_logs_the_new_prefix_not_the_key(responder, service):
    integration, old = make_integration(service)
    client = portal(responder)
    response = client.post(f"/services/{service.slug}/integrations/{integration.pk}/rotate/")
    assert response.status_code == 302
    new = client.session["relay_intake_key_once"]["key"]
    entry = the_entry("integration.rotate_key")
    assert_origin(entry, responder, "web")
    assert entry.secrets_changed == ["key_hash"]
    assert entry.before == {"key_prefix": old[:8], "rotated_at": None}
    assert entry.after["key_prefix"] == new[:8] and entry.after["rotated_at"]
    assert_nowhere(old, new, keys.hash_key(old), keys.hash_key(new))


def test_api_integration_create_update_and_rotate(responder, service):
    client = api(responder)
    response = client.post("/api/v1/integrations/", {
        "service": service.slug, "name": "prom", "format": "alertmanager"}, format="json")
    assert response.status_code == 201
    first, pk = response.json()["key"], response.json()["id"]
    response = client.patch(f"/api/v1/integrations/{pk}/", {
        "enabled": False, "signing_secret": "new-hmac-secret-42"}, format="json")
    assert response.status_code == 200
    second = client.post(f"/api/v1/integrations/{pk}/rotate/").json()["key"]
    created = the_entry("integration.create")
    updated = the_entry("integration.update")
    rotated = the_entry("integration.rotate_key")
    for entry in (created, updated, rotated):
        assert_origin(entry, responder, "api")
        assert entry.object_id == str(pk)
    assert created.secrets_changed == ["key_hash"]  # no signing secret was given
    assert (updated.before, updated.after) == ({"enabled": True}, {"enabled": False})
    assert updated.secrets_changed == ["signing_secret"]
    assert_nowhere(first, second, keys.hash_key(first), keys.hash_key(second),
                   "new-hmac-secret-42")


def test_api_refused_integration_update_writes_no_entry(responder, service):
    integration, _ = make_integration(service)
    response = api(responder).patch(f"/api/v1/integrations/{integration.pk}/",
                                    {"rate_limit_per_minute": -5}, format="json")
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(action="integration.update").exists()


def test_admin_rotation_and_deletion_of_integrations(admin, service):
    integration, old = make_integration(service)
    client = portal(admin)
    response = client.post("/admin/incidents/integration/", {
        "action": "rotate_keys", "_selected_action": [integration.pk]})
    assert response.status_code == 302
    [shown] = [str(m) for m in response.wsgi_request._messages]
    new = shown.split(": ", 1)[1].split(" ", 1)[0]
    assert keys.hash_key(new) == Integration.objects.get().key_hash
    response = client.post(f"/admin/incidents/integration/{integration.pk}/delete/",
                           {"post": "yes"})
    assert response.status_code == 302
    assert not Integration.objects.exists()
    assert_origin(the_entry("integration.rotate_key"), admin, "admin")
    deleted = the_entry("integration.delete")
    assert_origin(deleted, admin, "admin")
    assert deleted.before["key_hash"] == SECRET and deleted.after is None
    assert_nowhere(old, new, keys.hash_key(old), keys.hash_key(new))


def test_create_integration_command_logs_as_a_command_without_the_key(service):
    out = StringIO()
    call_command("create_integration", service.slug, "generic", "--name", "cli",
                 stdout=out, stderr=StringIO())
    key = out.getvalue().strip()
    entry = the_entry("integration.create")
    assert_origin(entry, None, "command", ip=None)
    assert entry.after["name"] == "cli"
    assert_nowhere(key, keys.hash_key(key))


def test_refused_command_writes_no_entry(service):
    with pytest.raises(Exception, match="Unknown format"):
        call_command("create_integration", service.slug, "nagios", stdout=StringIO())
    assert not AuditEntry.objects.filter(action="integration.create").exists()


# --- heartbeats --------------------------------------------------------------------------------


def test_portal_heartbeat_logs_its_integration_and_itself(responder, service):
    client = portal(responder)
    response = client.post(f"/services/{service.slug}/heartbeats/", {
        "name": "nightly backup", "interval_minutes": 1440, "grace_minutes": 30})
    assert response.status_code == 302
    key = client.session["relay_intake_key_once"]["key"]
    assert the_entry("integration.create").after["format"] == "heartbeat"
    entry = the_entry("heartbeat.create")
    assert_origin(entry, responder, "web")
    assert (entry.after["interval_minutes"], entry.after["grace_minutes"]) == (1440, 30)
    assert_nowhere(key, keys.hash_key(key))


def test_admin_heartbeat_change_logs_its_settings_only(admin, service):
    heartbeat, _ = intake.create_heartbeat(by=None, service=service, name="cron")
    heartbeat.last_ping_at = timezone.now()
    heartbeat.save()  # a ping: not a configuration change
    response = portal(admin).post(f"/admin/incidents/heartbeat/{heartbeat.pk}/change/", {
        "integration": heartbeat.integration_id, "interval_minutes": 15, "grace_minutes": 5})
    assert response.status_code == 302
    entry = the_entry("heartbeat.update")
    assert_origin(entry, admin, "admin")
    assert (entry.before, entry.after) == ({"interval_minutes": 60}, {"interval_minutes": 15})
    assert Heartbeat.objects.get().interval_minutes == 15


# --- alert rules and maintenance windows -------------------------------------------------------

RULE = {"name": "quiet", "position": 1, "enabled": "on", "match_field": "summary",
        "operator": "contains", "value": "noise", "action": "drop", "time_zone": "UTC"}


def test_portal_rule_create_and_change(responder):
    client = portal(responder)
    assert client.post("/rules/new/", RULE).status_code == 302
    rule = AlertRule.objects.get()
    assert client.post(f"/rules/{rule.pk}/", {**RULE, "value": "flaky"}).status_code == 302
    created, updated = the_entry("rule.create"), the_entry("rule.update")
    assert_origin(created, responder, "web")
    assert created.after["value"] == "noise"
    assert_origin(updated, responder, "web")
    assert (updated.before, updated.after) == ({"value": "noise"}, {"value": "flaky"})


def test_refused_rule_writes_no_entry(responder):
    response = portal(responder).post("/rules/new/", {**RULE, "operator": "regex",
                                                      "value": "("})
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(object_type="incidents.alertrule").exists()


def test_admin_rule_delete_keeps_the_rule_in_the_log(admin):
    rule = intake.save_rule(by=None, rule=AlertRule(), **{
        k: v for k, v in RULE.items() if k != "enabled"})
    response = portal(admin).post(f"/admin/incidents/alertrule/{rule.pk}/delete/",
                                  {"post": "yes"})
    assert response.status_code == 302
    entry = the_entry("rule.delete")
    assert_origin(entry, admin, "admin")
    assert entry.before["value"] == "noise" and entry.after is None
    assert entry.object_repr == str(rule)


def test_maintenance_windows_from_portal_and_admin(responder, admin, service):
    client = portal(responder)
    assert client.post(f"/services/{service.slug}/maintenance/", {
        "starts_at": "2026-11-24T10:00", "ends_at": "2026-11-24T11:00",
        "reason": "upgrade"}).status_code == 302
    window = MaintenanceWindow.objects.get()
    client = portal(admin)
    data = {"service": service.pk, "reason": "longer upgrade",
            "starts_at_0": "2026-11-24", "starts_at_1": "10:00",
            "ends_at_0": "2026-11-24", "ends_at_1": "11:00"}
    change = f"/admin/incidents/maintenancewindow/{window.pk}/change/"
    assert client.post(change, data).status_code == 302
    delete = f"/admin/incidents/maintenancewindow/{window.pk}/delete/"
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert_origin(the_entry("maintenance_window.create"), responder, "web")
    updated = the_entry("maintenance_window.update")
    assert_origin(updated, admin, "admin")
    assert (updated.before, updated.after) == ({"reason": "upgrade"},
                                               {"reason": "longer upgrade"})
    assert_origin(the_entry("maintenance_window.delete"), admin, "admin")


def test_refused_window_writes_no_entry(responder, service):
    response = portal(responder).post(f"/services/{service.slug}/maintenance/", {
        "starts_at": "2026-11-24T10:00", "ends_at": "2026-11-24T09:00", "reason": "oops"})
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(action__startswith="maintenance_window").exists()


def test_window_ended_by_a_service_call_without_a_request_is_a_system_entry(service, commander):
    now = timezone.now()
    window = intake.create_maintenance_window(by=commander, service=service, starts_at=now,
                                              ends_at=now + timedelta(hours=2), reason="db")
    intake.update_maintenance_window(by=None, window=window, ends_at=now + timedelta(hours=1))
    entry = the_entry("maintenance_window.update")
    assert (entry.actor, entry.source, entry.ip) == (None, "system", None)
    assert list(entry.after) == ["ends_at"]


# --- outgoing webhooks -------------------------------------------------------------------------


def test_portal_webhook_logs_its_url_but_not_its_secret(responder):
    response = portal(responder).post("/webhooks/", {
        "name": "chat", "url": "https://hooks.example.test/relay", "secret": "whsec-9f8e7d6c",
        "active": "on"})
    assert response.status_code == 302
    entry = the_entry("webhook.create")
    assert_origin(entry, responder, "web")
    assert entry.after["url"] == "https://hooks.example.test/relay"
    assert entry.after["secret"] == SECRET and entry.secrets_changed == ["secret"]
    assert_nowhere("whsec-9f8e7d6c")


@override_settings(RELAY_OUTBOUND_ALLOW=())
def test_refused_webhook_writes_no_entry(responder):
    response = portal(responder).post("/webhooks/", {
        "name": "scan", "url": "http://127.0.0.1:6379/", "secret": "whsec-1"})
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(action__startswith="webhook").exists()


def test_admin_webhook_change_of_secret_and_delete(admin):
    client = portal(admin)
    data = {"name": "chat", "url": "https://hooks.example.test/x", "secret": "whsec-first-1",
            "events": '["incident.declared"]', "active": "on"}
    assert client.post("/admin/incidents/webhooksubscription/add/", data).status_code == 302
    subscription = WebhookSubscription.objects.get()
    change = f"/admin/incidents/webhooksubscription/{subscription.pk}/change/"
    assert client.post(change, {**data, "secret": "whsec-second-2"}).status_code == 302
    delete = f"/admin/incidents/webhooksubscription/{subscription.pk}/delete/"
    assert client.post(delete, {"post": "yes"}).status_code == 302
    updated = the_entry("webhook.update")
    assert_origin(updated, admin, "admin")
    assert (updated.before, updated.after, updated.secrets_changed) == ({}, {}, ["secret"])
    deleted = the_entry("webhook.delete")
    assert deleted.before["url"] == "https://hooks.example.test/x"
    assert_origin(the_entry("webhook.create"), admin, "admin")
    assert_nowhere("whsec-first-1", "whsec-second-2")


# --- restricted incidents ----------------------------------------------------------------------


def test_restricting_from_the_portal_logs_on_the_incident(commander, incident):
    response = portal(commander).post(f"/incidents/{incident.pk}/restrict/",
                                      {"restricted": "on"})
    assert response.status_code == 302
    entry = the_entry("incident.restrict")
    assert_origin(entry, commander, "web")
    assert entry.incident == incident
    assert (entry.before, entry.after) == ({"restricted": False}, {"restricted": True})
    assert entry.object_repr == incident.reference  # the title may be restricted reading
    assert "commander" in entry.note


def test_declaring_restricted_logs_who_keeps_access(commander):
    response = portal(commander).post("/incidents/declare/", {
        "title": "Leaked credentials", "severity": "P2", "restricted": "on"})
    assert response.status_code == 302
    entry = the_entry("incident.restrict")
    assert_origin(entry, commander, "web")
    assert entry.incident.title == "Leaked credentials" and entry.incident.restricted
    assert (entry.before, entry.after) == (None, {"restricted": True})
    assert entry.note == "Declared restricted. Access for: commander"


def test_declaring_open_logs_no_restriction(commander):
    portal(commander).post("/incidents/declare/", {"title": "Slow search", "severity": "P3"})
    assert not AuditEntry.objects.filter(action="incident.restrict").exists()


def test_restricting_twice_logs_once(commander, incident):
    client = portal(commander)
    for _ in range(2):
        client.post(f"/incidents/{incident.pk}/restrict/", {"restricted": "on"})
    assert AuditEntry.objects.filter(action="incident.restrict").count() == 1


def test_granting_a_user_and_a_team_from_the_portal(commander, restricted_incident, responder,
                                                    team):
    client = portal(commander)
    url = f"/incidents/{restricted_incident.pk}/grant/"
    assert client.post(url, {"user": "responder"}).status_code == 302
    assert client.post(url, {"team": team.slug}).status_code == 302
    user_grant, team_grant = AuditEntry.objects.filter(action="incident.grant").order_by("seq")
    for entry in (user_grant, team_grant):
        assert_origin(entry, commander, "web")
        assert entry.incident == restricted_incident and entry.before is None
    assert user_grant.after == {"granted_to": "user:responder"}
    assert team_grant.after == {"granted_to": f"team:{team.slug}"}


def test_refused_grant_writes_no_entry(commander, restricted_incident):
    response = portal(commander).post(f"/incidents/{restricted_incident.pk}/grant/", {})
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(action="incident.grant").exists()


def test_paging_someone_for_a_restricted_incident_grants_as_relay(commander):
    ann = make_user("ann", "Responders")
    add_contact(ann)
    incident = declare(by=commander, title="Leaked credentials", severity=Severity.P1,
                       restricted=True, escalation_policy=make_policy({"users": [ann]}))
    escalation.advance(incident.escalation_run.pk, now=timezone.now())
    entry = the_entry("incident.grant")
    assert (entry.actor, entry.actor_label, entry.source) == (None, "Relay", "system")
    assert entry.after == {"granted_to": "user:ann"} and entry.incident == incident
