"""Least privilege on PostgreSQL: a migration owner and a runtime role that cannot rewrite
history.

The runtime role (what web and worker processes connect as) owns nothing, so it cannot disable
triggers or alter tables, and it has no UPDATE, DELETE or TRUNCATE on the timeline and the audit
log, and no DELETE or TRUNCATE on incidents. The owner role runs `migrate`. Neither is a superuser.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

APPEND_ONLY = ("incidents_timelineentry", "incidents_auditentry")
NEVER_DELETED = ("incidents_incident",)
READ_ONLY = ("django_migrations",)
FUNCTIONS = ("relay_reject_history_change()",)


def statements(database: str, owner: str, runtime: str, tables: list[str],
               sequences: list[str]) -> list[sql.Composable]:
    ident = sql.Identifier
    out: list[sql.Composable] = []
    for role in (owner, runtime):
        out.append(sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN "
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$"
        ).format(name=sql.Literal(role), role=ident(role)))
    out += [
        sql.SQL("ALTER ROLE {} NOSUPERUSER NOBYPASSRLS").format(ident(runtime)),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
            ident(database), ident(owner), ident(runtime)),
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(ident(owner)),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident(runtime)),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC, {}").format(ident(runtime)),
    ]
    for table in tables:
        out.append(sql.SQL("ALTER TABLE {} OWNER TO {}").format(ident(table), ident(owner)))
    for sequence in sequences:
        out.append(sql.SQL("ALTER SEQUENCE {} OWNER TO {}").format(ident(sequence), ident(owner)))
    for function in FUNCTIONS:
        out.append(sql.SQL(f"ALTER FUNCTION {function} OWNER TO {{}}").format(ident(owner)))
    for table in tables:
        if table in APPEND_ONLY:
            privileges = "SELECT, INSERT"
        elif table in NEVER_DELETED:
            privileges = "SELECT, INSERT, UPDATE"
        elif table in READ_ONLY:
            privileges = "SELECT"
        else:
            privileges = "SELECT, INSERT, UPDATE, DELETE"
        out.append(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(ident(table), ident(runtime)))
        out.append(sql.SQL(f"GRANT {privileges} ON TABLE {{}} TO {{}}").format(
            ident(table), ident(runtime)))
    for sequence in sequences:
        out.append(sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
            ident(sequence), ident(runtime)))
    # Tables a later migration creates: the ordinary grants, then re-run this command for the
    # append-only ones (the README says so).
    out += [
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT, INSERT, "
                "UPDATE, DELETE ON TABLES TO {}").format(ident(owner), ident(runtime)),
        sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT USAGE, SELECT ON "
                "SEQUENCES TO {}").format(ident(owner), ident(runtime)),
    ]
    return out


class Command(BaseCommand):
    help = ("Print (or, with --apply, run) the PostgreSQL statements for a least-privilege setup: "
            "a migration owner role that owns every table, and a runtime role the web and worker "
            "processes connect as, with no ownership and no UPDATE, DELETE or TRUNCATE on the "
            "timeline and the audit log. Run after every `migrate`. Needs a superuser connection "
            "to apply.")

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="relay_owner",
                            help="Role that owns the tables and runs migrations (relay_owner).")
        parser.add_argument("--runtime", default="relay_app",
                            help="Role the application connects as (relay_app).")
        parser.add_argument("--apply", action="store_true",
                            help="Run the statements now instead of printing them.")

    def handle(self, *, owner, runtime, apply, **options):
        if connection.vendor != "postgresql":
            raise CommandError("db_roles sets up PostgreSQL roles; this database is "
                               f"{connection.vendor}, which has no roles (the embedded default "
                               "is protected by its triggers and the checkpoints).")
        if owner == runtime:
            raise CommandError("The owner and runtime roles must differ: the runtime role must "
                               "own nothing.")
        tables = sorted(connection.introspection.table_names(include_views=False))
        with connection.cursor() as cursor:
            cursor.execute("SELECT sequence_name FROM information_schema.sequences "
                           "WHERE sequence_schema = 'public' ORDER BY 1")
            sequences = [row[0] for row in cursor.fetchall()]
        database = connection.settings_dict["NAME"]
        todo = statements(database, owner, runtime, tables, sequences)
        raw = connection.connection  # psycopg's own connection renders Composables
        if not apply:
            self.stdout.write(f"-- Least privilege for {database}: run as a superuser after "
                              "every migrate (or use --apply).")
            for statement in todo:
                self.stdout.write(statement.as_string(raw) + ";")
            self.stdout.write(
                f"-- Then: run `migrate` as {owner}, and the web and worker processes as "
                f"{runtime} (DATABASE_URL=postgres://{runtime}:…@host/{database}).")
            return
        with connection.cursor() as cursor:
            for statement in todo:
                cursor.execute(statement.as_string(raw))
        self.stdout.write(f"Applied {len(todo)} statements to {database}: tables owned by "
                          f"{owner}; {runtime} cannot update, delete or truncate history.")
