"""Prepared statements for the few hot statements whose planning costs more than their run.

Django's PostgreSQL backend binds parameters on the client, so PostgreSQL plans every statement
anew. `hot_cursor()` gives a cursor that binds on the server instead: psycopg prepares a
statement the `prepare_threshold`-th time a connection runs it (settings: DB_PREPARED_STATEMENTS,
on by default; off for a pooler in transaction mode that cannot carry prepared statements).
Elsewhere (SQLite, or prepared statements off) it is Django's usual cursor. Statements run
through it are plain SQL with %s or %(name)s parameters; Django's query logging still sees them.
"""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


def prepares(db=None) -> bool:
    db = db or connections[DEFAULT_DB_ALIAS]
    return (db.vendor == "postgresql"
            and db.settings_dict["OPTIONS"].get("prepare_threshold") is not None)


@contextmanager
def hot_cursor():
    # The connection looked up once: each attribute read through django.db.connection goes
    # through its thread-local lookup again, which on the hot path cost more than the cursor.
    db = connections[DEFAULT_DB_ALIAS]
    if not prepares(db):
        with db.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What connection.cursor() does, around a server-binding cursor: health check, connect,
    # and Django's wrapper (the debug one when queries are logged).
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    wrap = _LoggedCursor if db.queries_logged else CursorWrapper
    with wrap(ServerBindingCursor(db.connection), db) as cursor:
        yield cursor


class _LoggedCursor(CursorDebugWrapper):
    """Logs each statement with its parameters in place, as Django's debug cursor does for its
    own: Django reads the statement back from the cursor, which a prepared one does not keep."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params)):
            return CursorWrapper.execute(self, sql, params)
