"""Secrets stay out of the logs: requests that Django logs (a 400 on an intake URL, a bad page
link) are written through the real LOGGING handlers with the secret replaced by [redacted]."""

import copy
import io
import logging
import logging.config
import sys

import pytest
from django.conf import settings
from django.core import signing
from django.utils.log import configure_logging

from config.log_filters import RedactSecrets, redact
from incidents.paging import links
from tests.incidents.conftest import make_integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_output():
    """The project's LOGGING, as configured at start-up, with its console writing to a buffer."""
    buffer = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["stream"] = buffer
    logging.config.dictConfig(config)
    yield buffer
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


def test_bad_request_on_intake_url_logs_no_key(client, service, log_output):
    _, key = make_integration(service)
    response = client.post(f"/integrations/generic/{key}/", data="{not json",
                           content_type="application/json")
    assert response.status_code == 400
    logged = log_output.getvalue()
    assert "Bad Request: /integrations/generic/[redacted]/" in logged
    assert key not in logged


def test_bad_page_link_logs_no_token(client, log_output):
    token = signing.dumps({"p": 999999}, salt=links.SALT, compress=True)
    response = client.get(f"/pages/{token}/acknowledge/")
    assert response.status_code == 400
    logged = log_output.getvalue()
    assert "/pages/[redacted]/acknowledge/" in logged
    assert token not in logged


def test_filter_merges_arguments_and_clears_them():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1,
                               "Bad Request: %s", ("/integrations/grafana/k3y-v4lue/",), None)
    assert RedactSecrets().filter(record) is True
    assert record.getMessage() == "Bad Request: /integrations/grafana/[redacted]/"
    assert record.args == ()


def test_filter_redacts_secrets_in_a_traceback():
    try:
        raise ValueError("GET /oncall/people/3/calendar.ics?token=abc123")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (),
                                   exc_info=sys.exc_info())
    RedactSecrets().filter(record)
    assert "abc123" not in record.exc_text
    assert "token=[redacted]" in record.exc_text


@pytest.mark.parametrize(("line", "expected"), [
    ("POST /integrations/alertmanager/AbC_123/ 400",
     "POST /integrations/alertmanager/[redacted]/ 400"),
    ("POST /integrations/generic/AbC/change/ 202",
     "POST /integrations/generic/[redacted]/change/ 202"),
    ("POST /integrations/pagerduty/v2/enqueue 202", "POST /integrations/pagerduty/v2/enqueue 202"),
    ("GET /oncall/schedules/2/calendar.ics?token=s3cret HTTP/1.1",
     "GET /oncall/schedules/2/calendar.ics?token=[redacted] HTTP/1.1"),
    ("Authorization: Bearer t0ken", "Authorization: Bearer [redacted]"),
    ("{'HTTP_AUTHORIZATION': 'Token t0ken'}", "{'HTTP_AUTHORIZATION': 'Token [redacted]'}"),
    ("Reply-To: relay+.eJyr=1a:2b@example.test", "Reply-To: relay+[redacted]@example.test"),
    ("Token contains invalid characters.", "Token contains invalid characters."),
])
def test_redact(line, expected):
    assert redact(line) == expected


def test_every_logging_handler_redacts():
    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact_secrets" in handler.get("filters", []), name
