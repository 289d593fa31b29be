"""Prepared statements for the few hot statements whose planning costs more than their run.

Django's PostgreSQL backend binds parameters on the client, so PostgreSQL plans every statement
anew. `hot_cursor()` gives a cursor that binds on the server instead: psycopg prepares a
statement the `prepare_threshold`-th time a connection runs it (settings: DB_PREPARED_STATEMENTS,
on by default; off for a pooler in transaction mode that cannot carry prepared statements).
Elsewhere (SQLite, or prepared statements off) it is Django's usual cursor. Statements run
through it are plain SQL with %s or %(name)s parameters; Django's query logging still sees them.
"""

from contextlib import contextmanager

from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


def prepares() -> bool:
    return (connection.vendor == "postgresql"
            and connection.settings_dict["OPTIONS"].get("prepare_threshold") is not None)


@contextmanager
def hot_cursor():
    if not prepares():
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What connection.cursor() does, around a server-binding cursor: health check, connect,
    # and Django's wrapper (the debug one when queries are logged).
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = ServerBindingCursor(connection.connection)
    wrap = _LoggedCursor if connection.queries_logged else CursorWrapper
    with wrap(raw, connection) as cursor:
        yield cursor


class _LoggedCursor(CursorDebugWrapper):
    """Logs each statement with its parameters in place, as Django's debug cursor does for its
    own: Django reads the statement back from the cursor, which a prepared one does not keep."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params)):
            return CursorWrapper.execute(self, sql, params)
