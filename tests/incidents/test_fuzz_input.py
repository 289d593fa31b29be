"""Fuzzing every door that takes a body: alert intake in each format and the API's POST/PATCH
serializers. Valid payloads have parts replaced by hostile values (NUL, lone surrogates, huge
numbers, NaN, deep nesting, wrong types, long and non-ASCII text), or the body is junk outright.
Whatever comes in, the answer is never a 5xx, and a 400 stores nothing.

Without config.strictjson, config.api_input and config.timerange these find 500s within a few
examples on PostgreSQL (NUL, NaN and 1e400 in jsonb; surrogates on both databases). There is no
on-call API yet (config/api_urls.py): on-call input is covered by tests/oncall/test_time_range.
Derandomised and bounded, so the file runs in well under two minutes."""

import json
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents import services
from incidents.intake import keys
from incidents.models import Alert, ChangeEvent, Incident, Integration, Service, TimelineEntry
from tests.incidents.conftest import make_integration
from tests.incidents.test_api import bearer_client

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

HOSTILE_TEXT = ["\x00", "a\x00b", "\ud800", "x\udfff", "é", "日本", "😀", "x" * 3000, "", " ",
                "0001-01-01T00:00:00-05:00", "9999-12-31T23:59:59Z", "critical", "firing", "P1"]
# st.characters() with no exclusions yields surrogates and NUL too.
texts = st.one_of(st.sampled_from(HOSTILE_TEXT),
                  st.text(st.characters(codec=None, exclude_categories=()), max_size=20))
numbers = st.one_of(st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=True),
                    st.sampled_from([1e308, -0.0, 2 ** 63, -(2 ** 31) - 1]))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)), max_leaves=8)
JUNK_BODIES = ["[" * 100_000, "{" * 70 + "}" * 70, "1e400", "NaN", '"\\ud800"', "",
               '{"a": 1', "\x00", '{"\\u0000": 1}']


def _paths(value, prefix=()):
    """Every place in a JSON document a value can be put: each existing item and a new key."""
    yield prefix
    if isinstance(value, dict):
        yield (*prefix, "extra")
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replace(document, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: _replace(document.get(head), rest, value)}
    if isinstance(document, list) and isinstance(head, int) and head < len(document):
        return [*document[:head], _replace(document[head], rest, value), *document[head + 1:]]
    return document  # an earlier change replaced this part: nothing left to reach


def bodies(base: dict):
    """`base` with one to three of its parts replaced by hostile values, or junk text."""
    paths = list(_paths(base))
    mutated = st.lists(st.tuples(st.sampled_from(paths), values), min_size=1, max_size=3).map(
        lambda changes: _apply(base, changes))
    return st.one_of(mutated.map(_dumps), st.sampled_from(JUNK_BODIES))


def _apply(base, changes):
    for path, value in changes:
        base = _replace(base, path, value)
    return base


def _dumps(document) -> str:
    try:
        return json.dumps(document)  # NaN and inf become the literals NaN and Infinity
    except ValueError:  # an int too long to print: send junk of the same spirit instead
        return "1" * 5000


def counts() -> tuple:
    return tuple(model.objects.count() for model in (
        Alert, Incident, ChangeEvent, TimelineEntry, Service, Integration))


def check(response, before: tuple) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code == 400:
        assert counts() == before, response.content[:500]


def fuzz_json_writes(client, method: str, url: str, base: dict, state=counts) -> None:
    """Send hostile variations of `base` (and junk) to one JSON write of the API: never a 500,
    and a 400 leaves `state()` as it was."""

    @FUZZ
    @given(body=bodies(base))
    def run(body):
        before = state()
        response = getattr(client, method)(url, data=body.encode("utf-8", "surrogatepass"),
                                           content_type="application/json")
        assert response.status_code < 500, response.content[:500]
        if response.status_code == 400:
            assert state() == before, response.content[:500]

    run()


# --- intake ------------------------------------------------------------------------------------

FIRING = {"status": "firing", "fingerprint": "f1", "labels": {"alertname": "Disk", "x": "y"},
          "annotations": {"summary": "Disk full"}, "startsAt": "2026-11-23T10:00:00Z"}
INTAKE = {
    "generic": ("generic", "/integrations/generic/{key}/",
                {"summary": "Disk full", "severity": "critical", "dedup_key": "d1",
                 "details": {"foo": "bar", "n": [1, 2]}}),
    "generic-change": ("generic", "/integrations/generic/{key}/change/",
                       {"summary": "Deploy", "timestamp": "2026-11-23T10:00:00Z",
                        "details": {"v": "1"}, "links": [{"href": "https://x.test"}]}),
    "alertmanager": ("alertmanager", "/integrations/alertmanager/{key}/",
                     {"version": "4", "groupKey": "g", "receiver": "relay",
                      "alerts": [FIRING, {**FIRING, "fingerprint": "f2"}]}),
    "grafana": ("grafana", "/integrations/grafana/{key}/",
                {"version": "1", "orgId": 1, "title": "t", "alerts": [
                    {**FIRING, "panelURL": "https://g.test/p", "values": {"A": 1}}]}),
    "pagerduty": ("pagerduty", "/integrations/pagerduty/v2/enqueue",
                  {"routing_key": "{key}", "event_action": "trigger", "dedup_key": "k",
                   "payload": {"summary": "s", "source": "h", "severity": "critical",
                               "timestamp": "2026-11-23T10:00:00Z",
                               "custom_details": {"a": "b"}},
                   "links": [{"href": "https://x.test"}]}),
    "pagerduty-change": ("pagerduty", "/integrations/pagerduty/v2/change/enqueue",
                         {"routing_key": "{key}", "payload": {
                             "summary": "s", "timestamp": "2026-11-23T10:00:00Z",
                             "custom_details": {"a": "b"}}}),
}


def _with_key(document, key: str):
    return json.loads(json.dumps(document).replace('"{key}"', json.dumps(key)))


@pytest.mark.parametrize("name", INTAKE)
def test_intake_never_fails_on_hostile_bodies(client, service, name):
    format, url, base = INTAKE[name]
    _, key = make_integration(service, format, rate_limit_per_minute=1_000_000)
    base = _with_key(base, key)

    @FUZZ
    @given(body=bodies(base))
    def run(body):
        cache.clear()
        before = counts()
        check(client.post(url.format(key=key), data=body.encode("utf-8", "surrogatepass"),
                          content_type="application/json"), before)

    run()


EMAIL = (b"From: Nagios <n@m.test>\nTo: a@r.test\nSubject: Disk full\n"
         b"Message-ID: <1@m.test>\nContent-Type: text/plain; charset=utf-8\n\nHost: web-1\n")
EMAIL_JUNK = [b"\x00", b"\xed\xa0\x80", b"\xff\xfe", "é".encode(), b"=?utf-8?b?AA==?=",
              b"=?utf-8?q?a=00b?=", b"=?x-unknown?q?a?=", b"\r\n\r\n", b"Subject: \x00\n"]


@st.composite
def emails(draw):
    parts = EMAIL.split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(parts) - 1))
        junk = draw(st.one_of(st.sampled_from(EMAIL_JUNK), st.binary(max_size=30)))
        parts[index] += junk
    return b"\n".join(parts)


def test_email_intake_never_fails_on_hostile_messages(client, service):
    _, key = make_integration(service, "email", rate_limit_per_minute=1_000_000)

    @FUZZ
    @given(message=emails())
    def run(message):
        cache.clear()
        before = counts()
        check(client.post(f"/integrations/email/{key}/", data=message,
                          content_type="message/rfc822"), before)

    run()


# --- REST API ----------------------------------------------------------------------------------

def _api_cases(incident, service, integration):
    number = f"/api/v1/incidents/{incident.pk}"
    return [
        ("post", "/api/v1/incidents/", {
            "title": "t", "severity": "P2", "description": "d", "services": [service.slug],
            "customer_tiers": [], "restricted": False, "started_at": "2026-11-23T10:00:00Z"}),
        ("post", f"{number}/transition/", {"status": "investigating", "note": "n"}),
        ("post", f"{number}/notes/", {"text": "note"}),
        ("post", f"{number}/roles/", {"commander": "commander", "comms_lead": None,
                                      "responders": ["commander"]}),
        ("post", f"{number}/severity/", {"severity": "P1", "note": "n"}),
        ("post", "/api/v1/services/", {
            "slug": "db", "name": "DB", "description": "", "runbook_url": "https://r.test",
            "team": None, "escalation_policy": None, "auto_resolve": True, "group_by": "service",
            "group_window_minutes": 60, "stale_alert_days": 7, "flap_threshold": 3,
            "flap_window_minutes": 60}),
        ("patch", f"/api/v1/services/{service.slug}/", {"name": "N", "group_window_minutes": 5}),
        ("post", "/api/v1/integrations/", {
            "service": service.slug, "name": "n", "format": "generic", "enabled": True,
            "rate_limit_per_minute": 100, "email_dedup": "message_id", "signing_secret": ""}),
        ("patch", f"/api/v1/integrations/{integration.pk}/", {"name": "n", "enabled": False}),
    ]


API_CASES = ["declare", "transition", "notes", "roles", "severity", "service-create",
             "service-update", "integration-create", "integration-update"]


@pytest.mark.parametrize("case", API_CASES)
def test_api_never_fails_on_hostile_bodies(commander, service, case):
    incident = services.declare(title="Checkout down", severity="P2", by=commander,
                                started_at=datetime(2026, 1, 1, tzinfo=UTC))
    integration = Integration.objects.get(pk=make_integration(service)[0].pk)
    method, url, base = _api_cases(incident, service, integration)[API_CASES.index(case)]
    client = bearer_client(commander)
    keys.forget_keys()
    fuzz_json_writes(client, method, url, base)
