"""Alert intake in a real browser: a responder sets up a service and an integration, a monitoring
tool sends alerts with the key shown once, and the incident page lists them; rules are previewed
and saved; an outgoing webhook is tested from its page against a real receiver; a signing
secret set on a Grafana integration makes intake refuse unsigned requests."""

import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from incidents.intake import keys, services
from incidents.models import Alert, AlertRule, Incident, Integration, WebhookSubscription
from tests.browser.conftest import login
from tests.incidents.intake.test_formats import GRAFANA_FIRING, hmac_hex
from tests.receivers import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def send_alert(live_server, key: str, **body) -> int:
    request = urllib.request.Request(
        f"{live_server.url}/integrations/generic/{key}/", data=json.dumps(body).encode(),
        method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_responder_sets_up_integration_and_sees_alerts_on_the_incident(
        live_server, page, responder):
    keys.forget_keys()
    login(page, live_server, responder)
    page.get_by_role("link", name="Services").click()
    form = page.locator("#service-form")
    form.get_by_label("Name").fill("Billing")
    form.get_by_label("Slug").fill("billing")
    form.get_by_role("button", name="Create service").click()
    expect(page.locator("h1")).to_have_text("Billing")

    integration_form = page.locator("#integration-form")
    integration_form.get_by_label("Name").fill("Nightly jobs")
    integration_form.get_by_label("Format").select_option("generic")
    integration_form.get_by_role("button", name="Add integration").click()
    key = page.locator("#new-key-value").inner_text()
    assert Integration.objects.get(name="Nightly jobs").key_hash == keys.hash_key(key)

    for _ in range(3):
        assert send_alert(live_server, key, summary="Invoice run failed",
                          dedup_key="invoices", severity="error") == 202
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)  # shown once only
    expect(page.locator("#service-alerts")).to_contain_text("Invoice run failed ×3")

    incident = Incident.objects.get()
    page.get_by_role("link", name=f"INC-{incident.pk}", exact=True).click()
    panel = page.locator("#alerts-panel")
    expect(panel.locator("#alert-list")).to_contain_text("Invoice run failed")
    expect(panel.locator("td.count")).to_have_text("3")
    expect(page.locator("#timeline-entries")).to_contain_text("alert fired: Invoice run failed")


def test_rule_preview_then_save(live_server, page, responder, service):
    _, key = services.create_integration(by=None, service=service, format="generic")
    send_alert(live_server, key, summary="database down on db-1", dedup_key="a")
    send_alert(live_server, key, summary="disk full on web-2", dedup_key="b")
    login(page, live_server, responder)
    page.goto(f"{live_server.url}/rules/new/")
    form = page.locator("#rule-form")
    form.get_by_label("Name").fill("Database down is P1")
    form.get_by_label("Value").fill("database down")
    form.get_by_label("Action").select_option("severity")
    form.get_by_label("Severity").select_option("P1")
    page.locator("#preview-button").click()
    expect(page.locator("#preview-summary")).to_have_text("1 of 2 recent alerts match.")
    assert AlertRule.objects.count() == 0
    page.locator("#save-rule").click()
    expect(page.locator("#rule-list")).to_contain_text("Database down is P1")
    assert AlertRule.objects.get().severity == "P1"


def test_webhook_test_button_logs_the_receivers_answer(live_server, page, responder, service):
    receiver = Receiver()
    try:
        subscription = WebhookSubscription.objects.create(name="Runbook bot", url=receiver.url,
                                                          secret="s3cret")
        login(page, live_server, responder)
        page.goto(f"{live_server.url}/webhooks/{subscription.pk}/")
        page.locator("#test-webhook").click()
        expect(page.locator("#delivery-log .response-code")).to_have_text("200")
        assert json.loads(receiver.hits[0]["body"])["event"] == "ping"
    finally:
        receiver.close()


def test_responder_plans_maintenance_and_adds_a_heartbeat(live_server, page, responder, service):
    login(page, live_server, responder)
    page.goto(f"{live_server.url}/services/{service.slug}/")
    window = page.locator("#window-form")
    window.get_by_label("Starts at").fill("2026-12-01T22:00")
    window.get_by_label("Ends at").fill("2026-12-01T23:30")
    window.get_by_label("Reason").fill("Database upgrade")
    window.get_by_role("button", name="Plan window").click()
    expect(page.locator("#window-list")).to_contain_text("Database upgrade: Dec 1, 22:00")

    heartbeat = page.locator("#heartbeat-form")
    heartbeat.get_by_label("Name").fill("Nightly backup")
    heartbeat.get_by_label("Interval minutes").fill("1440")
    heartbeat.get_by_role("button", name="Add heartbeat").click()
    key = page.locator("#new-key-value").inner_text()
    expect(page.locator("#new-key")).to_contain_text(f"/integrations/heartbeat/{key}/")
    expect(page.locator("#heartbeat-list")).to_contain_text("Nightly backup: every 1440 min")
    with urllib.request.urlopen(f"{live_server.url}/integrations/heartbeat/{key}/",
                                timeout=10) as response:
        assert response.status == 200
    page.reload()
    expect(page.locator("#heartbeat-list")).not_to_contain_text("last ping never")


def post_grafana(live_server, key: str, body: bytes, signature: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Grafana-Alerting-Signature"] = signature
    request = urllib.request.Request(f"{live_server.url}/integrations/grafana/{key}/",
                                     data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_signing_secret_set_in_the_portal_refuses_unsigned_grafana_requests(
        live_server, page, responder, service):
    secret = "c0ntact-point-hmac-secret"
    login(page, live_server, responder)
    page.goto(f"{live_server.url}/services/{service.slug}/")
    form = page.locator("#integration-form")
    form.get_by_label("Name").fill("Grafana checkout")
    form.get_by_label("Format").select_option("grafana")
    form.get_by_label("Signing secret").fill(secret)
    form.get_by_role("button", name="Add integration").click()
    key = page.locator("#new-key-value").inner_text()
    expect(page.locator("#integration-list")).to_contain_text("Grafana checkout")
    assert secret not in page.content()  # a password field: never shown back
    assert Integration.objects.get(name="Grafana checkout").signing_secret == secret

    body = json.dumps(GRAFANA_FIRING, separators=(",", ":")).encode()
    status, answer = post_grafana(live_server, key, body, None)
    assert status == 401
    assert "requires the X-Grafana-Alerting-Signature header" in answer["message"]
    status, _ = post_grafana(live_server, key, body, hmac_hex("another secret", body))
    assert status == 401
    assert Alert.objects.count() == 0

    status, answer = post_grafana(live_server, key, body, hmac_hex(secret, body))
    assert status == 202
    assert answer["dedup_keys"] == ["c6eadffa33fcdf37"]
    page.reload()
    expect(page.locator("#service-alerts")).to_contain_text("p99 latency above 2s ×1")
