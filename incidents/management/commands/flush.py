from django.core.management.commands import flush
from django.db import connections

from incidents.history_guard import allow_purge


class Command(flush.Command):
    help = flush.Command.help + " History triggers allow this purge, and only this one."

    def handle(self, **options):
        with allow_purge(connections[options["database"]]):
            return super().handle(**options)
