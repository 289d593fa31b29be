"""config.db.hot_cursor: hot statements are prepared once per connection on PostgreSQL, and run
as plain statements everywhere else."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config import db


def _run(times: int, probe: str = "probe") -> list:
    cast = "" if connection.vendor == "sqlite" else "::int"
    results = []
    for _ in range(times):
        with db.hot_cursor() as cursor:
            cursor.execute(f"SELECT %(a)s{cast} + 1 AS hot_cursor_{probe}", {"a": 41})
            results.append(cursor.fetchone()[0])
    return results


def _prepared_here(probe: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       [f"%hot_cursor_{probe}%"])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_results_and_query_logging_are_as_with_a_plain_cursor():
    with CaptureQueriesContext(connection) as ctx:
        assert _run(3) == [42, 42, 42]
    assert len(ctx.captured_queries) == 3
    assert [q["sql"] for q in ctx.captured_queries] == [
        "SELECT 41" + ("" if connection.vendor == "sqlite" else "::int")
        + " + 1 AS hot_cursor_probe"] * 3  # with its parameter in place, prepared or not


@pytest.mark.django_db
def test_postgresql_prepares_a_statement_run_often_on_one_connection():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements: PostgreSQL only")
    assert db.prepares()
    _run(1, "often")
    assert _prepared_here("often") == 0  # once is not often
    _run(3, "often")
    assert _prepared_here("often") == 1


@pytest.mark.django_db
def test_without_prepared_statements_nothing_is_prepared(settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements: PostgreSQL only")
    monkeypatch.delitem(connection.settings_dict["OPTIONS"], "prepare_threshold")
    assert not db.prepares()
    _run(4, "never")
    assert _prepared_here("never") == 0
