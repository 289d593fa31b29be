from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self):
        from incidents.history_guard import register_sqlite_function
        from incidents.management.commands.register_schedules import after_migrate

        connection_created.connect(register_sqlite_function, dispatch_uid="relay_purge_fn")
        # After every migrate, so a deployment never runs with an outdated set of recurring tasks.
        post_migrate.connect(after_migrate, sender=self, dispatch_uid="relay_schedules")
