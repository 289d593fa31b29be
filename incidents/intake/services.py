"""Every configuration write of alert intake: services, integrations and their keys, heartbeats,
alert rules and maintenance windows. The portal, the admin, the API and the commands all call
these, so a rule is checked once, a key is minted one way, the caches are forgotten and the
audit log is written on every path (keys and secrets only named as changed). `by` is the acting
user (None for commands and seeds)."""

from django.db import router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone

from incidents import audit
from incidents.intake import keys, rules
from incidents.models import (
    AlertRule,
    Heartbeat,
    Integration,
    IntegrationFormat,
    MaintenanceWindow,
    Service,
    WebhookSubscription,
)
from incidents.webhooks.services import SECRETS as WEBHOOK_SECRETS

# Never in the audit log, only the news that they changed.
INTEGRATION_SECRETS = ("key_hash", "signing_secret")
# A heartbeat's configuration; its pings (last_ping_at, is_down) are not changes to it.
HEARTBEAT_SETTINGS = ("integration", "interval_minutes", "grace_minutes")


def _apply(obj, fields: dict):
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    return obj


# --- services ------------------------------------------------------------------------------------


def create_service(*, by, **fields) -> Service:
    service = Service()
    with transaction.atomic(), audit.recording("service", service, actor=by):
        return _apply(service, fields)


def update_service_settings(*, by, service: Service, **fields) -> Service:
    """Grouping, auto-resolve and the rest; routing caches are forgotten by the save signal."""
    with transaction.atomic(), audit.recording("service", service, actor=by):
        return _apply(service, fields)


# What a service's deletion takes with it, each logged as its own deletion (thing, secrets).
CASCADED = {
    AlertRule: ("rule", ()),
    MaintenanceWindow: ("maintenance_window", ()),
    WebhookSubscription: ("webhook", WEBHOOK_SECRETS),
}


def delete_service(*, by, service: Service) -> None:
    """Its rules, maintenance windows and webhooks go with it, each with its own audit entry;
    integrations and alerts protect it."""
    with transaction.atomic():
        audit.log_delete("service", service, actor=by)
        for thing, secrets, row in cascaded(service):
            audit.log_delete(thing, row, actor=by, secrets=secrets)
        service.delete()


def cascaded(service: Service):
    """(thing, secrets, row) for every row Django's delete would take with the service; a model
    not in CASCADED is a KeyError (tested), so a new cascade must decide how it is logged."""
    collector = Collector(using=router.db_for_write(Service))
    collector.collect([service])
    found = [row for model, rows in collector.data.items() if model is not Service
             for row in rows]
    found += [row for qs in collector.fast_deletes if not qs.model._meta.auto_created
              for row in qs]
    for row in sorted(found, key=lambda r: (type(r).__name__, r.pk)):
        yield (*CASCADED[type(row)], row)


# --- integrations and their keys -----------------------------------------------------------------


def create_integration(*, by, service: Service, format: str, name: str = "",
                       **settings) -> tuple[Integration, str]:
    """The one place a key is minted: a new integration and its key. Only the key's hash is
    stored; the caller shows the key once."""
    raw = keys.new_key()
    integration = Integration(service=service, format=format, key_hash=keys.hash_key(raw),
                              key_prefix=raw[:8], name=name or f"{service.name} {format}")
    with transaction.atomic(), audit.recording("integration", integration, actor=by,
                                               secrets=INTEGRATION_SECRETS):
        _apply(integration, settings)
    return integration, raw


def rotate_integration_key(*, by, integration: Integration) -> str:
    """A new key; the old one stops working here at once and in other processes within
    keys.KEY_CACHE_SECONDS."""
    raw = keys.new_key()
    with transaction.atomic(), audit.recording("integration", integration, actor=by,
                                               verb="rotate_key", secrets=INTEGRATION_SECRETS,
                                               fields=["key_prefix", "rotated_at"]):
        integration.key_hash, integration.key_prefix = keys.hash_key(raw), raw[:8]
        integration.rotated_at = timezone.now()
        integration.save(update_fields=["key_hash", "key_prefix", "rotated_at"])
    keys.forget_keys()
    return raw


def update_integration(*, by, integration: Integration, **fields) -> Integration:
    with transaction.atomic(), audit.recording("integration", integration, actor=by,
                                               secrets=INTEGRATION_SECRETS):
        _apply(integration, fields)
    keys.forget_keys()  # the cached lookups hold enabled, limits and secrets
    return integration


def set_integration_enabled(*, by, integration: Integration, enabled: bool) -> Integration:
    return update_integration(by=by, integration=integration, enabled=enabled)


def delete_integration(*, by, integration: Integration) -> None:
    """Only one that never received an alert (alerts protect it); a heartbeat goes with it."""
    with transaction.atomic():
        audit.log_delete("integration", integration, actor=by, secrets=INTEGRATION_SECRETS)
        integration.delete()
    keys.forget_keys()


def create_heartbeat(*, by, service: Service, name: str, interval_minutes: int = 60,
                     grace_minutes: int = 5) -> tuple[Heartbeat, str]:
    with transaction.atomic():
        integration, key = create_integration(by=by, service=service, name=name,
                                              format=IntegrationFormat.HEARTBEAT)
        heartbeat = Heartbeat(integration=integration)
        with audit.recording("heartbeat", heartbeat, actor=by):
            _apply(heartbeat, {"interval_minutes": interval_minutes,
                               "grace_minutes": grace_minutes})
    return heartbeat, key


def save_heartbeat(*, by, heartbeat: Heartbeat, **fields) -> Heartbeat:
    """Create (an unsaved heartbeat of an existing integration) or change one."""
    with transaction.atomic(), audit.recording("heartbeat", heartbeat, actor=by,
                                               fields=HEARTBEAT_SETTINGS):
        return _apply(heartbeat, fields)


def delete_heartbeat(*, by, heartbeat: Heartbeat) -> None:
    """The heartbeat only; its integration (and key) stays until deleted itself."""
    with transaction.atomic():
        audit.log_delete("heartbeat", heartbeat, actor=by)
        heartbeat.delete()


# --- rules and maintenance windows ---------------------------------------------------------------


def save_rule(*, by, rule: AlertRule, **fields) -> AlertRule:
    """Create (an unsaved rule) or change a rule; rules.validate holds what a rule must be."""
    for name, value in fields.items():
        setattr(rule, name, value)
    rules.validate(rule)
    with transaction.atomic(), audit.recording("rule", rule, actor=by):
        return _apply(rule, {})


def delete_rule(*, by, rule: AlertRule) -> None:
    with transaction.atomic():
        audit.log_delete("rule", rule, actor=by)
        rule.delete()


def create_maintenance_window(*, by, service: Service, starts_at, ends_at,
                              reason: str) -> MaintenanceWindow:
    """The model's clean() refuses a window that does not end after it starts."""
    window = MaintenanceWindow(service=service, created_by=by)
    with transaction.atomic(), audit.recording("maintenance_window", window, actor=by):
        return _apply(window, {"starts_at": starts_at, "ends_at": ends_at, "reason": reason})


def update_maintenance_window(*, by, window: MaintenanceWindow, **fields) -> MaintenanceWindow:
    with transaction.atomic(), audit.recording("maintenance_window", window, actor=by):
        return _apply(window, fields)


def delete_maintenance_window(*, by, window: MaintenanceWindow) -> None:
    with transaction.atomic():
        audit.log_delete("maintenance_window", window, actor=by)
        window.delete()
