from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self):
        from django_q.signals import post_spawn

        from incidents.history_guard import register_sqlite_function
        from incidents.management.commands.register_schedules import after_migrate
        from incidents.tasks import start_ticker

        connection_created.connect(register_sqlite_function, dispatch_uid="relay_purge_fn")
        # After every migrate, so a deployment never runs with an outdated set of recurring tasks.
        post_migrate.connect(after_migrate, sender=self, dispatch_uid="relay_schedules")
        # Escalation timers resume as soon as a worker starts (see incidents.tasks.run_ticker).
        post_spawn.connect(start_ticker, dispatch_uid="relay_ticker")
