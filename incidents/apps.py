from django.apps import AppConfig
from django.db.backends.signals import connection_created


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self):
        from incidents.history_guard import register_sqlite_function

        connection_created.connect(register_sqlite_function, dispatch_uid="relay_purge_fn")
