"""Each vendor format, driven through its HTTP endpoint with payloads shaped like the vendor's
documentation (Alertmanager's captured from a real Alertmanager 0.25)."""

import hashlib
import hmac
import json
import time
from functools import partial

import pytest
from drf_spectacular.validation import validate_schema

from incidents.intake import keys
from incidents.models import Alert, AlertStatus, ChangeEvent, Incident, Status
from tests.incidents.conftest import make_integration, vendor_request

pytestmark = pytest.mark.django_db


def post(client, url, body, content_type="application/json"):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, data=data, content_type=content_type)


def test_alertmanager_firing_declares_one_incident_with_the_alert(client, alertmanager_key):
    body = vendor_request("alertmanager-webhook-firing")["body"]
    response = post(client, f"/integrations/alertmanager/{alertmanager_key}/", body)
    assert response.status_code == 202
    alert = Alert.objects.get()
    assert alert.dedup_key == "e1e5bc6d4ca3d091"
    assert alert.summary == "Primary DB unreachable"
    assert alert.severity == "P1"  # severity=critical label
    assert alert.details["labels"]["instance"] == "db-1"
    incident = alert.incident
    assert incident.title == "Primary DB unreachable"
    assert incident.severity == "P1"
    assert list(incident.services.values_list("slug", flat=True)) == ["checkout-api"]
    assert incident.timeline.filter(kind="alert").count() == 1


def test_alertmanager_resolved_resolves_alert_and_incident(client, alertmanager_key):
    url = f"/integrations/alertmanager/{alertmanager_key}/"
    post(client, url, vendor_request("alertmanager-webhook-firing")["body"])
    response = post(client, url, vendor_request("alertmanager-webhook-resolved")["body"])
    assert response.status_code == 202
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.incident.status == Status.RESOLVED
    assert alert.incident.timeline.filter(kind="alert_resolved").exists()


def test_alertmanager_repeat_counts_instead_of_new_alert(client, alertmanager_key):
    url = f"/integrations/alertmanager/{alertmanager_key}/"
    for _ in range(3):
        post(client, url, vendor_request("alertmanager-webhook-firing")["body"])
    alert = Alert.objects.get()
    assert alert.count == 3
    assert Incident.objects.count() == 1


def test_alertmanager_rejects_other_payload_versions_naming_the_field(client, alertmanager_key):
    body = vendor_request("alertmanager-webhook-firing")["body"] | {"version": "3"}
    response = post(client, f"/integrations/alertmanager/{alertmanager_key}/", body)
    assert response.status_code == 400
    assert response.json()["field"] == "version"
    assert Alert.objects.count() == 0


def test_alertmanager_alert_without_fingerprint_is_400(client, alertmanager_key):
    body = vendor_request("alertmanager-webhook-firing")["body"]
    del body["alerts"][0]["fingerprint"]
    response = post(client, f"/integrations/alertmanager/{alertmanager_key}/", body)
    assert response.status_code == 400
    assert response.json()["field"] == "alerts[0].fingerprint"


GRAFANA_FIRING = {
    "receiver": "relay",
    "status": "firing",
    "orgId": 1,
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "High latency", "grafana_folder": "Checkout",
                   "severity": "warning"},
        "annotations": {"summary": "p99 latency above 2s"},
        "startsAt": "2026-11-23T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana.example.test/alerting/grafana/abc/view",
        "fingerprint": "c6eadffa33fcdf37",
        "silenceURL": "https://grafana.example.test/alerting/silence/new",
        "dashboardURL": "https://grafana.example.test/d/checkout",
        "panelURL": "https://grafana.example.test/d/checkout?viewPanel=2",
        "values": {"B": 2.4, "C": 1},
        "valueString": "[ var='B' labels={} value=2.4 ]",
    }],
    "groupLabels": {"alertname": "High latency"},
    "commonLabels": {"alertname": "High latency"},
    "commonAnnotations": {},
    "externalURL": "https://grafana.example.test/",
    "version": "1",
    "groupKey": "{}:{alertname=\"High latency\"}",
    "truncatedAlerts": 0,
    "title": "[FIRING:1] High latency (Checkout)",
    "state": "alerting",
    "message": "**Firing**\n\nValue: B=2.4",
}


def test_grafana_webhook_creates_alert_with_panel_link(client, service):
    _, key = make_integration(service, "grafana")
    response = post(client, f"/integrations/grafana/{key}/", GRAFANA_FIRING)
    assert response.status_code == 202
    alert = Alert.objects.get()
    assert alert.summary == "p99 latency above 2s"
    assert alert.severity == "P3"
    assert alert.source_url == "https://grafana.example.test/d/checkout?viewPanel=2"
    assert alert.details["links"]["dashboardURL"] == "https://grafana.example.test/d/checkout"
    resolved = json.loads(json.dumps(GRAFANA_FIRING))
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    post(client, f"/integrations/grafana/{key}/", resolved)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_grafana_panel_link_that_is_not_text_is_refused_naming_it(client, service):
    _, key = make_integration(service, "grafana")
    payload = json.loads(json.dumps(GRAFANA_FIRING))
    payload["alerts"][0]["panelURL"] = [None, None]
    response = post(client, f"/integrations/grafana/{key}/", payload)
    assert response.status_code == 400
    assert response.json()["field"] == "alerts[0].panelURL"
    assert not Alert.objects.exists()


# Shaped like the example in PagerDuty's Events API v2 documentation.
PD_TRIGGER = {
    "payload": {
        "summary": "DISK at 99% on machine prod-datapipe03.example.com",
        "timestamp": "2026-11-23T08:42:58.315+0000",
        "severity": "critical",
        "source": "prod-datapipe03.example.com",
        "component": "mysql",
        "group": "prod-datapipe",
        "class": "disk",
        "custom_details": {"free space": "1%", "ping time": "1500ms", "load avg": 0.75},
    },
    "routing_key": "",
    "dedup_key": "samplekeyhere",
    "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                "href": "https://example.com/", "alt": "Example text"}],
    "links": [{"href": "https://example.com/", "text": "Link text"}],
    "event_action": "trigger",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
}


def pd(key, **changes):
    body = json.loads(json.dumps(PD_TRIGGER))
    body["routing_key"] = key
    body.update(changes)
    return body


def test_pagerduty_trigger_answers_like_pagerduty(client, pagerduty_key):
    response = post(client, "/integrations/pagerduty/v2/enqueue", pd(pagerduty_key))
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": "samplekeyhere"}
    alert = Alert.objects.get()
    assert alert.severity == "P1"
    assert alert.details["custom_details"]["free space"] == "1%"
    assert alert.details["links"][0]["href"] == "https://example.com/"
    assert alert.source == "prod-datapipe03.example.com"


def test_pagerduty_trigger_without_dedup_key_gets_one_generated(client, pagerduty_key):
    body = pd(pagerduty_key)
    del body["dedup_key"]
    response = post(client, "/integrations/pagerduty/v2/enqueue", body)
    assert response.status_code == 202
    assert response.json()["dedup_key"] == Alert.objects.get().dedup_key
    assert len(response.json()["dedup_key"]) == 32


def test_pagerduty_acknowledge_then_resolve(client, pagerduty_key):
    url = "/integrations/pagerduty/v2/enqueue"
    post(client, url, pd(pagerduty_key))
    ack = {"routing_key": pagerduty_key, "dedup_key": "samplekeyhere",
           "event_action": "acknowledge"}
    assert post(client, url, ack).status_code == 202
    incident = Incident.objects.get()
    assert incident.status == Status.ACKNOWLEDGED
    response = post(client, url, ack | {"event_action": "resolve"})
    assert response.json()["dedup_key"] == "samplekeyhere"
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_pagerduty_trigger_after_resolve_opens_a_new_alert(client, pagerduty_key):
    url = "/integrations/pagerduty/v2/enqueue"
    post(client, url, pd(pagerduty_key))
    post(client, url, {"routing_key": pagerduty_key, "dedup_key": "samplekeyhere",
                       "event_action": "resolve"})
    post(client, url, pd(pagerduty_key))
    assert Alert.objects.count() == 2
    assert Alert.objects.filter(status="triggered").count() == 1


@pytest.mark.parametrize(("change", "field"), [
    ({"event_action": "explode"}, "event_action"),
    ({"payload": {"summary": "x", "source": "y", "severity": "urgent"}}, "payload.severity"),
    ({"payload": {"source": "y", "severity": "info"}}, "payload.summary"),
    ({"payload": "text"}, "payload"),
])
def test_pagerduty_invalid_events_answer_400_with_errors(client, pagerduty_key, change, field):
    response = post(client, "/integrations/pagerduty/v2/enqueue", pd(pagerduty_key, **change))
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["field"] == field
    assert body["errors"] and field in body["errors"][0]


def test_pagerduty_resolve_needs_dedup_key(client, pagerduty_key):
    response = post(client, "/integrations/pagerduty/v2/enqueue",
                    {"routing_key": pagerduty_key, "event_action": "resolve"})
    assert response.status_code == 400
    assert response.json()["field"] == "dedup_key"


def test_alertmanager_pagerduty_receiver_payloads(client, pagerduty_key):
    url = "/integrations/pagerduty/v2/enqueue"
    trigger = vendor_request("alertmanager-to-pagerduty-trigger")["body"]
    resolve = vendor_request("alertmanager-to-pagerduty-resolve")["body"]
    assert post(client, url, trigger | {"routing_key": pagerduty_key}).status_code == 202
    incident = Incident.objects.get()
    assert incident.title == "[FIRING:1] DBDown (db-1 critical)"
    assert post(client, url, resolve | {"routing_key": pagerduty_key}).status_code == 202
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_pagerduty_change_event(client, pagerduty_key, service):
    body = {
        "routing_key": pagerduty_key,
        "payload": {"summary": "Build Success: Increase snapshot create timeout to 30 seconds",
                    "timestamp": "2026-11-23T09:10:00Z",
                    "source": "prod-build-agent-i-0b148d1040d565540",
                    "custom_details": {"build_state": "passed", "build_number": "2",
                                       "run_time": "1236s"}},
        "links": [{"href": "https://buildkite.example.test/builds/2", "text": "View build"}],
    }
    response = post(client, "/integrations/pagerduty/v2/change/enqueue", body)
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Change event processed"}
    change = ChangeEvent.objects.get()
    assert change.service == service
    assert change.details["build_number"] == "2"
    assert change.happened_at.isoformat() == "2026-11-23T09:10:00+00:00"


@pytest.mark.parametrize(("timestamp", "stored"), [
    ("2026-11-23T09:10:00+20:30", "2026-11-22T12:40:00+00:00"),
    ("2026-11-23T09:10:00-18:00", "2026-11-24T03:10:00+00:00"),
])
def test_change_event_time_with_an_offset_postgresql_refuses_is_stored_in_utc(
        client, pagerduty_key, timestamp, stored):
    body = {"routing_key": pagerduty_key,
            "payload": {"summary": "Deploy", "timestamp": timestamp}}
    response = post(client, "/integrations/pagerduty/v2/change/enqueue", body)
    assert response.status_code == 202
    assert ChangeEvent.objects.get().happened_at.isoformat() == stored


def test_generic_json_trigger_and_resolve(client, generic_key):
    url = f"/integrations/generic/{generic_key}/"
    body = {"summary": "Backup job failed", "source": "cron@db-2", "severity": "error",
            "dedup_key": "backup-db-2", "details": {"exit_code": 2}}
    assert post(client, url, body).status_code == 202
    alert = Alert.objects.get()
    assert (alert.severity, alert.details["exit_code"]) == ("P2", 2)
    post(client, url, {"action": "resolve", "dedup_key": "backup-db-2"})
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_generic_change_endpoint(client, generic_key):
    response = post(client, f"/integrations/generic/{generic_key}/change/",
                    {"summary": "Deploy checkout v42", "source": "argo"})
    assert response.status_code == 202
    assert ChangeEvent.objects.get().summary == "Deploy checkout v42"


EMAIL = b"""From: Nagios <nagios@monitor.example.test>
To: alerts@relay.example.test
Subject: ** PROBLEM Service Alert: web-1/HTTP is CRITICAL **
Message-ID: <20261123101500.4242@monitor.example.test>
Date: Mon, 23 Nov 2026 10:15:00 +0000
Content-Type: text/plain; charset=utf-8

***** Nagios *****

Notification Type: PROBLEM
Service: HTTP
Host: web-1
State: CRITICAL
"""


def test_email_endpoint_uses_subject_body_and_message_id(client, service):
    _, key = make_integration(service, "email")
    response = post(client, f"/integrations/email/{key}/", EMAIL, "message/rfc822")
    assert response.status_code == 202
    alert = Alert.objects.get()
    assert alert.summary == "** PROBLEM Service Alert: web-1/HTTP is CRITICAL **"
    assert alert.dedup_key == "<20261123101500.4242@monitor.example.test>"
    assert "Host: web-1" in alert.details["body"]
    post(client, f"/integrations/email/{key}/", EMAIL, "message/rfc822")
    alert.refresh_from_db()
    assert alert.count == 2


def test_email_without_subject_is_400(client, service):
    _, key = make_integration(service, "email")
    response = post(client, f"/integrations/email/{key}/", b"From: a@b\n\nhello",
                    "message/rfc822")
    assert response.status_code == 400
    assert response.json()["field"] == "Subject"


def test_every_intake_endpoint_is_in_the_openapi_schema(client, commander):
    client.force_login(commander)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    for path in ("/integrations/alertmanager/{key}/", "/integrations/grafana/{key}/",
                 "/integrations/generic/{key}/", "/integrations/generic/{key}/change/",
                 "/integrations/email/{key}/", "/integrations/pagerduty/v2/enqueue",
                 "/integrations/pagerduty/v2/change/enqueue", "/integrations/heartbeat/{key}/"):
        assert path in paths, path
    generic = paths["/integrations/generic/{key}/"]["post"]
    schema = generic["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["summary"]
    assert set(generic["responses"]) >= {"202", "400", "404", "413", "429"}


INTAKE_POSTS = ("/integrations/alertmanager/{key}/", "/integrations/grafana/{key}/",
                "/integrations/generic/{key}/", "/integrations/generic/{key}/change/",
                "/integrations/email/{key}/", "/integrations/pagerduty/v2/enqueue",
                "/integrations/pagerduty/v2/change/enqueue")


def intake_schema(client, user) -> dict:
    client.force_login(user)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_every_intake_endpoint_documents_its_error_answers(client, commander):
    schema = intake_schema(client, commander)
    validate_schema(schema)  # the hook's additions are valid OpenAPI 3
    for path in INTAKE_POSTS:
        responses = schema["paths"][path]["post"]["responses"]
        assert set(responses) >= {"202", "400", "404", "413", "429"}, path
        assert "Retry-After" in responses["429"]["headers"], path
    heartbeat = schema["paths"]["/integrations/heartbeat/{key}/"]
    for method in ("get", "post"):
        assert set(heartbeat[method]["responses"]) == {"200", "404"}  # no body, no rate limit


def test_only_grafanas_endpoint_documents_401_and_its_signature_headers(client, commander):
    paths = intake_schema(client, commander)["paths"]
    grafana = paths["/integrations/grafana/{key}/"]["post"]
    unauthorized = grafana["responses"]["401"]
    assert "signature" in unauthorized["description"]
    assert unauthorized["content"]["application/json"]["schema"]["properties"]["message"]
    headers = {p["name"] for p in grafana["parameters"] if p["in"] == "header"}
    assert headers == {"X-Grafana-Alerting-Signature", "X-Grafana-Alerting-Timestamp"}
    for path in INTAKE_POSTS:
        if path != "/integrations/grafana/{key}/":
            assert "401" not in paths[path]["post"]["responses"], path


def test_email_integration_can_deduplicate_by_subject(client, service):
    _, key = make_integration(service, "email", email_dedup="subject")
    url = f"/integrations/email/{key}/"
    post(client, url, EMAIL, "message/rfc822")
    second = EMAIL.replace(b"<20261123101500.4242@monitor.example.test>",
                           b"<20261123103000.4243@monitor.example.test>")
    post(client, url, second, "message/rfc822")
    alert = Alert.objects.get()
    assert alert.count == 2


def test_email_with_message_id_dedup_keeps_messages_apart(client, service):
    _, key = make_integration(service, "email")
    url = f"/integrations/email/{key}/"
    post(client, url, EMAIL, "message/rfc822")
    post(client, url, EMAIL.replace(b".4242@", b".4243@"), "message/rfc822")
    assert Alert.objects.count() == 2
    assert Incident.objects.count() == 1  # grouped into the service's open incident


# --- Grafana's HMAC signature (contact point → Optional Webhook settings → HMAC Signature) -----

GRAFANA_SECRET = "4f1d0c0e-7d7b-4a55-9d6c-2b3c5c1d9e11"


def grafana_signed(client, key, body: bytes, signature: str | None):
    headers = {} if signature is None else {"HTTP_X_GRAFANA_ALERTING_SIGNATURE": signature}
    return client.post(f"/integrations/grafana/{key}/", data=body,
                       content_type="application/json", **headers)


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_grafana_request_signed_with_the_secret_is_accepted(client, service):
    _, key = make_integration(service, "grafana", signing_secret=GRAFANA_SECRET)
    body = json.dumps(GRAFANA_FIRING).encode()
    response = grafana_signed(client, key, body, hmac_hex(GRAFANA_SECRET, body))
    assert response.status_code == 202
    assert Alert.objects.get().dedup_key == "c6eadffa33fcdf37"


@pytest.mark.parametrize("signature, message", [
    (None, "requires the X-Grafana-Alerting-Signature header"),
    ("", "requires the X-Grafana-Alerting-Signature header"),
    (hmac_hex("another secret", json.dumps(GRAFANA_FIRING).encode()), "does not match"),
    ("sha256=" + hmac_hex(GRAFANA_SECRET, json.dumps(GRAFANA_FIRING).encode()), "does not match"),
])
def test_grafana_request_with_missing_or_wrong_signature_is_401_and_not_stored(
        client, service, signature, message):
    _, key = make_integration(service, "grafana", signing_secret=GRAFANA_SECRET)
    response = grafana_signed(client, key, json.dumps(GRAFANA_FIRING).encode(), signature)
    assert response.status_code == 401
    assert message in response.json()["message"]
    assert Alert.objects.count() == 0


def test_grafana_signature_over_another_body_is_401(client, service):
    _, key = make_integration(service, "grafana", signing_secret=GRAFANA_SECRET)
    signed = hmac_hex(GRAFANA_SECRET, json.dumps(GRAFANA_FIRING).encode())
    tampered = json.dumps({**GRAFANA_FIRING, "status": "resolved"}).encode()
    assert grafana_signed(client, key, tampered, signed).status_code == 401
    assert Alert.objects.count() == 0


def test_grafana_integration_without_a_secret_accepts_unsigned_requests(client, service):
    _, key = make_integration(service, "grafana")
    body = json.dumps(GRAFANA_FIRING).encode()
    assert grafana_signed(client, key, body, None).status_code == 202


# --- Grafana's optional Timestamp Header: HMAC over "<unix seconds>:<body>" ----------------------


def grafana_timestamped(client, key, body: bytes, signature: str, timestamp: str):
    return client.post(f"/integrations/grafana/{key}/", data=body,
                       content_type="application/json",
                       HTTP_X_GRAFANA_ALERTING_SIGNATURE=signature,
                       HTTP_X_GRAFANA_ALERTING_TIMESTAMP=timestamp)


def grafana_body() -> bytes:
    # Grafana's encoder writes compact JSON.
    return json.dumps(GRAFANA_FIRING, separators=(",", ":")).encode()


def signed_with_timestamp(secret: str, timestamp: str, body: bytes) -> str:
    return hmac_hex(secret, timestamp.encode() + b":" + body)


def test_grafana_request_signed_with_a_fresh_timestamp_is_accepted(client, service):
    _, key = make_integration(service, "grafana", signing_secret=GRAFANA_SECRET)
    body, stamp = grafana_body(), str(int(time.time()))
    response = grafana_timestamped(client, key, body,
                                   signed_with_timestamp(GRAFANA_SECRET, stamp, body), stamp)
    assert response.status_code == 202
    assert Alert.objects.get().dedup_key == "c6eadffa33fcdf37"


@pytest.mark.parametrize("age", [-303, 303, 86400])  # clear of the second the request takes
def test_grafana_timestamp_too_far_from_now_is_401_even_when_signed(client, service, age):
    _, key = make_integration(service, "grafana", signing_secret=GRAFANA_SECRET)
    body, stamp = grafana_body(), str(int(time.time()) - age)
    response = grafana_timestamped(client, key, body,
                                   signed_with_timestamp(GRAFANA_SECRET, stamp, body), stamp)
    assert response.status_code == 401
    assert "X-Grafana-Alerting-Timestamp header is" in response.json()["message"]
    assert "at most 300 s" in response.json()["message"]
    assert Alert.objects.count() == 0


def test_grafana_timestamp_changed_after_signing_is_401(client, service):
    """A replay with a fresh timestamp put on an old signature."""
    _, key = make_integration(service, "grafana", signing_secret=GRAFANA_SECRET)
    body, now = grafana_body(), int(time.time())
    signature = signed_with_timestamp(GRAFANA_SECRET, str(now - 3600), body)
    response = grafana_timestamped(client, key, body, signature, str(now))
    assert response.status_code == 401
    assert "does not match the X-Grafana-Alerting-Timestamp header and the body" in (
        response.json()["message"])
    assert Alert.objects.count() == 0


def test_grafana_body_only_signature_with_a_timestamp_header_is_401(client, service):
    _, key = make_integration(service, "grafana", signing_secret=GRAFANA_SECRET)
    body = grafana_body()
    response = grafana_timestamped(client, key, body, hmac_hex(GRAFANA_SECRET, body),
                                   str(int(time.time())))
    assert response.status_code == 401
    assert Alert.objects.count() == 0


def test_grafana_timestamp_that_is_not_unix_seconds_is_401(client, service):
    _, key = make_integration(service, "grafana", signing_secret=GRAFANA_SECRET)
    body, stamp = grafana_body(), "2026-11-23T10:00:00Z"
    response = grafana_timestamped(client, key, body,
                                   signed_with_timestamp(GRAFANA_SECRET, stamp, body), stamp)
    assert response.status_code == 401
    assert "not a Unix time in seconds" in response.json()["message"]


@pytest.mark.parametrize(("age", "accepted"), [(300, True), (-300, True), (301, False)])
def test_grafana_timestamp_skew_limit_is_300_seconds(age, accepted):
    ref = keys.IntegrationRef(id=1, service_id=1, format="grafana", name="g",
                                rate_limit_per_minute=10, signing_secret=GRAFANA_SECRET)
    body, now = grafana_body(), 1_795_000_000
    stamp = str(now - age)
    check = partial(keys.check_signature, ref, body,
                    signed_with_timestamp(GRAFANA_SECRET, stamp, body), stamp, now=now)
    if accepted:
        check()
    else:
        with pytest.raises(keys.BadSignature, match="301 s away"):
            check()
