"""config.unavailable in-process: a database error raised in another middleware (where Django
turns it into a 500 before any middleware's process_exception could see it) still answers 503
with Retry-After, JSON for API and intake clients, a small page for people, logged once.
tests/incidents/intake/test_db_outage.py cuts a real server's database connections."""

import logging

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client, override_settings

from config import unavailable


class LostOnTheWayOut:
    """Fails as SessionMiddleware's save does when PostgreSQL went away during the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        self.get_response(request)
        raise OperationalError("consuming input failed: server closed the connection unexpectedly")


class Bug(LostOnTheWayOut):
    def __call__(self, request):
        raise RuntimeError("a bug, not an outage")


def _with_failing_middleware(name="LostOnTheWayOut"):
    middleware = list(settings.MIDDLEWARE)
    position = middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
    middleware.insert(position, f"{__name__}.{name}")
    return override_settings(MIDDLEWARE=middleware)


@pytest.fixture
def client(client):
    """Answers as a server does: the test client re-raises what reached Django's handler."""
    client.raise_request_exception = False
    return client


@pytest.fixture(autouse=True)
def _fresh_outage():
    unavailable.outage.down = False
    yield
    unavailable.outage.down = False


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_database_error_in_a_middleware_answers_a_small_page_with_retry_after(client, debug):
    with _with_failing_middleware(), override_settings(DEBUG=debug):
        response = client.get("/accounts/login/")
    assert response.status_code == 503
    assert response["Retry-After"] == str(unavailable.RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    assert b"briefly unavailable" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/incidents/", "/integrations/generic/some-key/"])
def test_database_error_answers_json_to_api_and_intake_clients(client, path):
    with _with_failing_middleware():
        response = client.post(path, data={"summary": "disk full"},
                               content_type="application/json")
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert response.json() == {"error": unavailable.MESSAGE}


@pytest.mark.django_db
def test_an_outage_is_one_warning_without_traceback_then_one_when_it_is_over(client, caplog):
    with caplog.at_level(logging.INFO), _with_failing_middleware():
        statuses = [client.get("/accounts/login/").status_code for _ in range(3)]
    assert statuses == [503, 503, 503]
    assert Client().get("/accounts/login/").status_code == 200  # the settings' middleware
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.levelno >= logging.WARNING] \
        == ["Database unavailable", "Database reachable again"]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.django_db
def test_other_errors_in_a_middleware_stay_500(client):
    with _with_failing_middleware("Bug"):
        assert client.get("/accounts/login/").status_code == 500
