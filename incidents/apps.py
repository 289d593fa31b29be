from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_migrate, post_save


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self):
        from django_q.signals import post_spawn

        from config import timers
        from incidents import checks  # noqa: F401 (registers the deploy checks)
        from incidents.history_guard import register_sqlite_function
        from incidents.intake.routing import forget_routing
        from incidents.management.commands.register_schedules import after_migrate
        from incidents.models import AlertRule, MaintenanceWindow, Service
        from incidents.paging.timers import ESCALATION_RUNS, PAGE_DELIVERIES
        from incidents.timeline import on_record
        from incidents.webhooks import outbox

        # Outgoing webhooks: outbox rows in the transaction of each timeline entry.
        on_record(outbox.enqueue)
        connection_created.connect(register_sqlite_function, dispatch_uid="relay_purge_fn")
        # After every migrate, so a deployment never runs with an outdated set of recurring tasks.
        post_migrate.connect(after_migrate, sender=self, dispatch_uid="relay_schedules")
        # Each worker process runs a ticker thread (see config.timers.ensure_ticker), which
        # wakes these sources' due work on time.
        post_spawn.connect(timers.start_ticker, dispatch_uid="relay_ticker")
        timers.register(ESCALATION_RUNS)
        timers.register(PAGE_DELIVERIES)
        # Intake caches a service's settings, rules and windows: forget them on any change here
        # (other processes follow within intake.ROUTING_CACHE_SECONDS).
        for model in (Service, AlertRule, MaintenanceWindow):
            for signal in (post_save, post_delete):
                signal.connect(forget_routing, sender=model,
                               dispatch_uid=f"relay_routing_{signal is post_save}_{model.__name__}")
        # The audit log of users, groups, API tokens and sign-ins (no service functions of ours).
        from incidents import audit_signals

        audit_signals.connect()
