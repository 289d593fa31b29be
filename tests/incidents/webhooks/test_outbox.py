"""Outgoing webhooks against a real HTTP receiver on loopback: signed bodies, retries with
backoff, the delivery log and the test button. Heartbeats."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.intake import heartbeats, keys
from incidents.intake import services as intake_services
from incidents.models import (
    Alert,
    AlertStatus,
    DeliveryStatus,
    Heartbeat,
    Incident,
    Service,
    Status,
    WebhookDelivery,
    WebhookSubscription,
)
from incidents.webhooks import outbox
from tests.conftest import declare
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def subscription(receiver, service):
    return WebhookSubscription.objects.create(name="automation", service=service,
                                              url=receiver.url, secret="s3cret")


def test_declared_incident_is_posted_signed(receiver, subscription, service, commander,
                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(by=commander, services=[service], title="Checkout down")
    request = receiver.hits[0]
    body = json.loads(request["body"])
    assert body["event"] == "incident.declared"
    assert body["incident"]["reference"] == incident.reference
    timestamp = request["headers"]["X-Relay-Timestamp"]
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + request["body"],
                        hashlib.sha256).hexdigest()
    assert request["headers"]["X-Relay-Signature"] == f"sha256={expected}"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.attempts) == (
        DeliveryStatus.DELIVERED, 200, 1)


def test_acknowledge_resolve_note_and_severity_events(receiver, subscription, incident,
                                                      commander,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.acknowledge(incident, by=commander)
        services.change_severity(incident, severity="P1", by=commander)
        services.add_note(incident, text="looking", by=commander)
        services.transition(incident, to=Status.RESOLVED, by=commander)
    events = [json.loads(r["body"])["event"] for r in receiver.hits]
    assert events == ["incident.status_changed", "incident.acknowledged",
                      "incident.severity_changed", "incident.note_added",
                      "incident.status_changed", "incident.resolved"]


def test_subscription_filters_events_and_services(receiver, service, commander, team,
                                                  django_capture_on_commit_callbacks):
    other = Service.objects.create(name="Search", slug="search", team=team)
    WebhookSubscription.objects.create(name="only resolved", url=receiver.url, secret="x",
                                       events=["incident.resolved"])
    WebhookSubscription.objects.create(name="search only", service=other, url=receiver.url,
                                       secret="x")
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(by=commander, services=[service])
        services.transition(incident, to=Status.RESOLVED, by=commander)
    assert [json.loads(r["body"])["event"] for r in receiver.hits] == ["incident.resolved"]


def test_restricted_incidents_are_never_sent(receiver, subscription, service, commander,
                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        declare(by=commander, services=[service], restricted=True)
    assert receiver.hits == []
    assert WebhookDelivery.objects.count() == 0


def test_failed_delivery_backs_off_then_succeeds_on_retry(receiver, subscription, service,
                                                          commander,
                                                          django_capture_on_commit_callbacks):
    receiver.statuses = [503]
    with django_capture_on_commit_callbacks(execute=True):
        declare(by=commander, services=[service])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.attempts) == (
        DeliveryStatus.PENDING, 503, 1)
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=25)
    assert outbox.retry_due() == 0  # not due yet
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert outbox.retry_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.attempts) == (
        DeliveryStatus.DELIVERED, 200, 2)


def test_backoff_doubles_and_gives_up_after_max_attempts(subscription, service, commander):
    subscription.url = "http://127.0.0.1:9/unreachable"
    subscription.save()
    declare(by=commander, services=[service])
    delivery = WebhookDelivery.objects.get()
    gaps = []
    for _ in range(outbox.MAX_ATTEMPTS):
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        outbox.deliver(delivery.pk)
        delivery.refresh_from_db()
        gaps.append(round((delivery.next_attempt_at - timezone.now()).total_seconds() / 30))
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == outbox.MAX_ATTEMPTS
    assert delivery.last_error == "connection failed"  # never the socket's words (port scans)
    assert gaps[:4] == [1, 2, 4, 8]


def test_claimed_delivery_is_not_sent_twice(receiver, subscription, service, commander):
    declare(by=commander, services=[service])
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_at=timezone.now())
    assert outbox.deliver(delivery.pk) == "not due or claimed elsewhere"
    assert receiver.hits == []


def test_test_button_sends_a_ping_and_logs_it(client, responder, receiver, subscription,
                                              django_capture_on_commit_callbacks):
    client.force_login(responder)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/webhooks/{subscription.pk}/test/")
    assert response.status_code == 302
    assert json.loads(receiver.hits[0]["body"])["event"] == "ping"
    html = client.get(f"/webhooks/{subscription.pk}/").content.decode()
    assert '<td class="response-code">200</td>' in html


@override_settings(RELAY_OUTBOUND_ALLOW=())
def test_test_button_to_a_loopback_url_is_refused_and_logged(client, responder, receiver,
                                                             subscription,
                                                             django_capture_on_commit_callbacks):
    client.force_login(responder)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/webhooks/{subscription.pk}/test/")
    assert receiver.hits == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.last_error, delivery.response_code) == ("refused: private address", None)
    html = client.get(f"/webhooks/{subscription.pk}/").content.decode()
    assert "refused: private address" in html


@override_settings(RELAY_OUTBOUND_ALLOW=())
@pytest.mark.parametrize("url", ["http://127.0.0.1:5432/", "http://localhost/hook",
                                 "http://[::1]/", "http://169.254.169.254/latest/"])
def test_subscribing_a_local_url_is_a_field_error(client, responder, url):
    client.force_login(responder)
    response = client.post("/webhooks/", {"name": "scan", "url": url, "secret": "x",
                                          "active": "on"})
    assert response.status_code == 400
    assert "Relay does not send to private or local addresses." in response.content.decode()
    assert not WebhookSubscription.objects.exists()


@override_settings(RELAY_OUTBOUND_ALLOW=())
def test_admin_refuses_a_local_webhook_url(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.post(reverse("admin:incidents_webhooksubscription_add"), {
        "name": "scan", "url": "http://127.0.0.1:6379/", "secret": "x", "events": "[]"})
    assert response.status_code == 200  # the form again, with the error
    assert "Relay does not send to private or local addresses." in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_test_button_is_403_for_auditors(client, auditor, subscription):
    client.force_login(auditor)
    assert client.post(f"/webhooks/{subscription.pk}/test/").status_code == 403
    assert WebhookDelivery.objects.count() == 0


# --- heartbeats ---------------------------------------------------------------------------------


def test_missed_heartbeat_raises_alert_and_next_ping_resolves_it(client, service):
    heartbeat, key = intake_services.create_heartbeat(
        by=None, service=service, name="nightly backup", interval_minutes=60, grace_minutes=5)
    assert client.get(f"/integrations/heartbeat/{key}/").status_code == 200
    assert heartbeats.check_missed() == 0
    Heartbeat.objects.update(last_ping_at=timezone.now() - timedelta(minutes=66))
    assert heartbeats.check_missed() == 1
    assert heartbeats.check_missed() == 0  # one alert per miss
    alert = Alert.objects.get()
    assert alert.summary == "Heartbeat missed: nightly backup"
    incident = alert.incident
    assert incident.status == Status.TRIGGERED
    assert client.post(f"/integrations/heartbeat/{key}/").status_code == 200
    alert.refresh_from_db()
    incident.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert incident.status == Status.RESOLVED
    assert Heartbeat.objects.get().is_down is False


def test_heartbeat_unknown_key_is_404(client, service):
    assert client.get(f"/integrations/heartbeat/{'0' * 32}/").status_code == 404


def test_heartbeat_created_in_the_portal_shows_its_ping_url(client, responder, service):
    client.force_login(responder)
    html = client.post(f"/services/{service.slug}/heartbeats/", {
        "name": "backup", "interval_minutes": 1440, "grace_minutes": 30},
                       follow=True).content.decode()
    key = html.split('id="new-key-value">')[1].split("<")[0]
    assert f"/integrations/heartbeat/{key}/" in html
    assert keys.find_integration(key, "heartbeat") is not None
    assert Incident.objects.count() == 0
