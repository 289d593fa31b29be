"""Database-level protection of history: triggers reject UPDATE/DELETE of timeline and audit
entries and DELETE of incidents, on PostgreSQL and SQLite, whatever client issues the SQL.

The one sanctioned exception is emptying a whole test database (`manage.py flush`, which the test
runner calls between transactional tests): it runs inside `allow_purge()`, which sets a
per-connection flag the triggers read (a session setting on PostgreSQL, honoured only in a
database named test_*; a registered SQL function on SQLite). No code path sets the flag for
ordinary work.
"""

from contextlib import contextmanager

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION relay_reject_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The purge switch counts only in a test database (Django names them test_*).
    IF TG_OP IN ('DELETE', 'TRUNCATE')
       AND coalesce(current_setting('relay.allow_purge', true), '') = 'on'
       AND current_database() LIKE 'test\\_%' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'relay: % on % is not allowed: incident history is append-only',
        TG_OP, TG_TABLE_NAME;
END $$;
"""

PG_FORWARD = [
    PG_FUNCTION,
    "CREATE TRIGGER timeline_append_only BEFORE UPDATE OR DELETE ON incidents_timelineentry "
    "FOR EACH ROW EXECUTE FUNCTION relay_reject_history_change();",
    "CREATE TRIGGER timeline_no_truncate BEFORE TRUNCATE ON incidents_timelineentry "
    "FOR EACH STATEMENT EXECUTE FUNCTION relay_reject_history_change();",
    "CREATE TRIGGER incident_no_delete BEFORE DELETE ON incidents_incident "
    "FOR EACH ROW EXECUTE FUNCTION relay_reject_history_change();",
    "CREATE TRIGGER incident_no_truncate BEFORE TRUNCATE ON incidents_incident "
    "FOR EACH STATEMENT EXECUTE FUNCTION relay_reject_history_change();",
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS timeline_append_only ON incidents_timelineentry;",
    "DROP TRIGGER IF EXISTS timeline_no_truncate ON incidents_timelineentry;",
    "DROP TRIGGER IF EXISTS incident_no_delete ON incidents_incident;",
    "DROP TRIGGER IF EXISTS incident_no_truncate ON incidents_incident;",
    "DROP FUNCTION IF EXISTS relay_reject_history_change();",
]

SQLITE_FORWARD = [
    "CREATE TRIGGER timeline_no_update BEFORE UPDATE ON incidents_timelineentry "
    "BEGIN SELECT RAISE(ABORT, 'relay: UPDATE on incidents_timelineentry is not allowed: "
    "incident history is append-only'); END;",
    "CREATE TRIGGER timeline_no_delete BEFORE DELETE ON incidents_timelineentry "
    "WHEN NOT relay_purge_allowed() "
    "BEGIN SELECT RAISE(ABORT, 'relay: DELETE on incidents_timelineentry is not allowed: "
    "incident history is append-only'); END;",
    "CREATE TRIGGER incident_no_delete BEFORE DELETE ON incidents_incident "
    "WHEN NOT relay_purge_allowed() "
    "BEGIN SELECT RAISE(ABORT, 'relay: DELETE on incidents_incident is not allowed: "
    "incident history is append-only'); END;",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS timeline_no_update;",
    "DROP TRIGGER IF EXISTS timeline_no_delete;",
    "DROP TRIGGER IF EXISTS incident_no_delete;",
]


# Migration 0021: the audit log gets the same protection, and every history trigger fires in
# replica mode too (`SET session_replication_role = replica` skips ordinary triggers; ENABLE
# ALWAYS ones still fire). Only a table's owner or a superuser can disable them: the runtime role
# `manage.py db_roles` sets up is neither.
PG_TRIGGERS = [
    ("incidents_timelineentry", "timeline_append_only"),
    ("incidents_timelineentry", "timeline_no_truncate"),
    ("incidents_incident", "incident_no_delete"),
    ("incidents_incident", "incident_no_truncate"),
    ("incidents_auditentry", "audit_append_only"),
    ("incidents_auditentry", "audit_no_truncate"),
]
PG_AUDIT_FORWARD = [
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON incidents_auditentry "
    "FOR EACH ROW EXECUTE FUNCTION relay_reject_history_change();",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON incidents_auditentry "
    "FOR EACH STATEMENT EXECUTE FUNCTION relay_reject_history_change();",
    *[f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name};" for table, name in PG_TRIGGERS],
]
PG_AUDIT_BACKWARD = [
    *[f"ALTER TABLE {table} ENABLE TRIGGER {name};" for table, name in PG_TRIGGERS[:4]],
    "DROP TRIGGER IF EXISTS audit_append_only ON incidents_auditentry;",
    "DROP TRIGGER IF EXISTS audit_no_truncate ON incidents_auditentry;",
]
SQLITE_AUDIT_FORWARD = [
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON incidents_auditentry "
    "BEGIN SELECT RAISE(ABORT, 'relay: UPDATE on incidents_auditentry is not allowed: "
    "the audit log is append-only'); END;",
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON incidents_auditentry "
    "WHEN NOT relay_purge_allowed() "
    "BEGIN SELECT RAISE(ABORT, 'relay: DELETE on incidents_auditentry is not allowed: "
    "the audit log is append-only'); END;",
]
SQLITE_AUDIT_BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_no_update;",
    "DROP TRIGGER IF EXISTS audit_no_delete;",
]


def _run(schema_editor, statements_by_vendor: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements_by_vendor:
        raise NotImplementedError(f"No history triggers for database vendor {vendor!r}.")
    for sql in statements_by_vendor[vendor]:
        schema_editor.execute(sql, params=None)


def install_audit(apps, schema_editor):
    _run(schema_editor, {"postgresql": PG_AUDIT_FORWARD, "sqlite": SQLITE_AUDIT_FORWARD})


def uninstall_audit(apps, schema_editor):
    _run(schema_editor, {"postgresql": PG_AUDIT_BACKWARD, "sqlite": SQLITE_AUDIT_BACKWARD})


def _statements(vendor: str, forward: bool) -> list[str]:
    if vendor == "postgresql":
        return PG_FORWARD if forward else PG_BACKWARD
    if vendor == "sqlite":
        return SQLITE_FORWARD if forward else SQLITE_BACKWARD
    raise NotImplementedError(f"No history triggers for database vendor {vendor!r}.")


def install(apps, schema_editor):
    for sql in _statements(schema_editor.connection.vendor, forward=True):
        schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    for sql in _statements(schema_editor.connection.vendor, forward=False):
        schema_editor.execute(sql, params=None)


def register_sqlite_function(sender, connection, **kwargs):
    """connection_created receiver: the SQLite triggers ask this function whether a purge is on."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function(
        "relay_purge_allowed", 0, lambda: int(getattr(connection, "relay_purge_allowed", False))
    )


@contextmanager
def allow_purge(connection):
    """Let this connection empty the history tables (test database flush only)."""
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('relay.allow_purge', 'on', false)")
    connection.relay_purge_allowed = True
    try:
        yield
    finally:
        connection.relay_purge_allowed = False
        if connection.vendor == "postgresql" and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('relay.allow_purge', 'off', false)")
