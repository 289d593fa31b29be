"""Notices to subscribers: who gets one, and their delivery through the outbox over real SMTP
and to a real HTTP receiver (signed, Statuspage-shaped), with retries and exactly-once sends."""

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from comms.models import (
    Maintenance,
    MaintenanceState,
    NoticeKind,
    NoticeStatus,
    StatusPage,
    Subscriber,
    SubscriberKind,
    SubscriberNotice,
)
from comms.status import delivery, notices
from comms.status import services as status_services
from config import outbound
from incidents import services as incident_services
from tests.comms.status.conftest import publish
from tests.concurrency import race
from tests.conftest import declare


@pytest.fixture
def capture(db, django_capture_on_commit_callbacks):
    return lambda execute=True: django_capture_on_commit_callbacks(execute=execute)


def _subscriber(email, *components, confirmed=True) -> Subscriber:
    subscriber = Subscriber.objects.create(kind=SubscriberKind.EMAIL, email=email)
    subscriber.components.set(components)
    if confirmed:
        notices.confirm(subscriber)
    return subscriber


def _verify(hit: dict, secret: str) -> dict:
    """Check a received POST's signature as a subscriber would, and return its JSON."""
    timestamp = hit["headers"]["X-Relay-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + hit["body"],
                        hashlib.sha256).hexdigest()
    assert hit["headers"]["X-Relay-Signature"] == f"sha256={expected}"
    return json.loads(hit["body"])


# --- Who hears about what -----------------------------------------------------------------------

def test_notices_follow_the_components_chosen(capture, smtp_server, incident, csm, component,
                                              other_component):
    everything = _subscriber("all@example.test")
    checkout = _subscriber("checkout@example.test", component)
    _subscriber("dashboard@example.test", other_component)
    _subscriber("pending@example.test", confirmed=False)
    both = _subscriber("both@example.test", component, other_component)
    with capture():
        message = publish(incident, csm)
    notified = set(SubscriberNotice.objects.filter(message=message)
                   .values_list("subscriber_id", flat=True))
    assert notified == {everything.pk, checkout.pk, both.pk}
    assert sorted(m["To"] for m in smtp_server) == ["all@example.test", "both@example.test",
                                                     "checkout@example.test"]


def test_incident_on_no_component_reaches_only_subscribers_of_everything(
        capture, smtp_server, commander, csm, component):
    _subscriber("checkout@example.test", component)
    everything = _subscriber("all@example.test")
    elsewhere = declare(by=commander, title="Office wifi")
    with capture():
        message = publish(elsewhere, csm, subject="Wifi flaky", body="The wifi is flaky.")
    assert list(SubscriberNotice.objects.filter(message=message)
                .values_list("subscriber_id", flat=True)) == [everything.pk]


def test_restricted_incident_gives_no_notice(capture, smtp_server, commander, csm, service,
                                             component):
    _subscriber("all@example.test")
    restricted = declare(by=commander, title="Breach", services=[service], restricted=True)
    message = publish(restricted, csm, subject="Hush", body="Hush.")
    notices.for_message(message)  # even when asked directly
    assert not SubscriberNotice.objects.exists()


def test_publishing_twice_to_the_same_key_is_one_notice(db, incident, csm, component):
    _subscriber("all@example.test")
    message = publish(incident, csm)
    notices.for_message(message)
    assert SubscriberNotice.objects.filter(key=f"message:{message.pk}").count() == 1


def test_notice_for_an_incident_restricted_meanwhile_is_not_sent(capture, smtp_server, incident,
                                                                 csm, commander, component):
    _subscriber("all@example.test")
    with capture(execute=False):
        message = publish(incident, csm)
    with capture():
        incident_services.set_restricted(incident, restricted=True, by=commander)
    notice = SubscriberNotice.objects.get(message=message)
    assert delivery.deliver(notice.pk) == NoticeStatus.FAILED
    notice.refresh_from_db()
    assert notice.last_error == delivery.NOT_SHOWN
    assert smtp_server == []


def test_unsubscribed_meanwhile_is_skipped_and_says_why(capture, smtp_server, incident, csm,
                                                       component):
    subscriber = _subscriber("all@example.test")
    with capture(execute=False):
        message = publish(incident, csm)
    notices.unsubscribe(subscriber)
    notice = SubscriberNotice.objects.get(message=message)
    assert delivery.deliver(notice.pk) == NoticeStatus.FAILED
    notice.refresh_from_db()
    assert (notice.status, notice.last_error) == (NoticeStatus.FAILED, delivery.UNSUBSCRIBED)
    assert notice.finished_at is not None
    assert delivery.deliver(notice.pk) is None  # done: nobody claims it again
    assert smtp_server == []


# --- SMTP retries -------------------------------------------------------------------------------

def test_refused_recipient_is_retried_then_delivered(capture, smtp_server, incident, csm,
                                                     component):
    _subscriber("later@example.test")
    smtp_server.refuse["later@example.test"] = 451
    with capture():
        message = publish(incident, csm)
    notice = SubscriberNotice.objects.get(message=message)
    assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)
    assert "451" in notice.last_error
    assert delivery.deliver(notice.pk, timezone.now()) is None  # not due before its backoff
    later = notice.due_at + timedelta(seconds=1)
    assert notice.pk in delivery.due_notices(later + delivery.GRACE)
    del smtp_server.refuse["later@example.test"]
    assert delivery.deliver(notice.pk, later) == NoticeStatus.DELIVERED
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_error) == (NoticeStatus.DELIVERED, 2, "")
    assert [m["To"] for m in smtp_server] == ["later@example.test"]


def test_permanently_refused_recipient_fails_after_the_retries(capture, smtp_server, incident,
                                                               csm, component):
    _subscriber("gone@example.test")
    smtp_server.refuse["gone@example.test"] = 550
    with capture():
        message = publish(incident, csm)
    notice = SubscriberNotice.objects.get(message=message)
    while notice.status == NoticeStatus.PENDING:
        delivery.deliver(notice.pk, notice.due_at + timedelta(seconds=1))
        notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.FAILED,
                                                delivery.NOTICES_OUTBOX.max_attempts)
    assert "550" in notice.last_error and notice.finished_at is not None
    assert smtp_server == []


def test_ticker_hands_on_orphaned_notices_only(capture, smtp_server, incident, csm, component):
    _subscriber("all@example.test")
    with capture(execute=False):
        message = publish(incident, csm)
    notice = SubscriberNotice.objects.get(message=message)
    now = timezone.now()
    assert delivery.due_notices(now) == []  # its own task is on the way
    assert delivery.due_notices(now + delivery.GRACE * 2) == [notice.pk]
    assert delivery.NOTICES.name == "status-notices"
    delivery.NOTICES.dispatch(notice.pk)  # the task, run synchronously in tests
    assert [m["To"] for m in smtp_server] == ["all@example.test"]
    assert delivery.due_notices(now + delivery.GRACE * 2) == []


# --- Webhooks -----------------------------------------------------------------------------------

def test_webhook_is_confirmed_by_its_endpoint_then_gets_signed_updates(
        client, capture, http_receiver, incident, csm, component):
    with capture():
        page = client.post("/status/subscribe/", {"url": http_receiver.url,
                                                  "components": [component.pk]})
    subscriber = Subscriber.objects.get()
    assert page.status_code == 200
    assert f'<code class="wrap" id="secret">{subscriber.secret}</code>' in page.content.decode()
    assert len(subscriber.secret) >= 40
    [confirmation] = http_receiver.hits
    body = _verify(confirmation, subscriber.secret)
    assert confirmation["headers"]["X-Relay-Event"] == "status.confirm"
    assert body["subscription"]["status"] == "confirming"
    assert body["subscription"]["components"] == [component.code]
    token = notices.manage_token(subscriber)
    assert body["meta"]["unsubscribe"] == f"http://127.0.0.1:8000/status/unsubscribe/{token}/"
    subscriber.refresh_from_db()
    assert subscriber.active
    assert SubscriberNotice.objects.get().response_code == 200

    with capture():
        publish(incident, csm, subject="Card payments failing", body="Some payments fail.")
    update = _verify(http_receiver.hits[1], subscriber.secret)
    assert set(update) == {"meta", "page", "incident"}
    assert update["page"]["status_indicator"] == "major"  # the P2 incident's impact
    assert update["page"]["status_description"] == "Partial System Outage"
    shown = update["incident"]
    assert (shown["name"], shown["status"], shown["impact"]) == ("Card payments failing",
                                                                  "investigating", "major")
    assert [u["body"] for u in shown["incident_updates"]] == ["Some payments fail."]
    assert shown["components"][0]["id"] == component.code
    assert shown["shortlink"].startswith("http://127.0.0.1:8000/status/incidents/")
    assert "Checkout returns 502" not in http_receiver.hits[1]["body"].decode()
    assert str(incident.pk) not in (shown["id"], shown["incident_updates"][0]["id"])


def test_webhook_that_does_not_confirm_receives_nothing(client, capture, http_receiver,
                                                       incident, csm, component):
    http_receiver.status = 500
    with capture():
        client.post("/status/subscribe/", {"url": http_receiver.url})
    subscriber = Subscriber.objects.get()
    confirmation = SubscriberNotice.objects.get()
    assert (confirmation.status, confirmation.response_code) == (NoticeStatus.PENDING, 500)
    assert confirmation.last_error == "HTTP 500"
    assert subscriber.confirmed_at is None
    with capture():
        message = publish(incident, csm)
    assert not SubscriberNotice.objects.filter(message=message).exists()
    assert len(http_receiver.hits) == 1
    # It answers the retry: confirmed from then on.
    http_receiver.status = 204
    assert delivery.deliver(confirmation.pk, confirmation.due_at) == NoticeStatus.DELIVERED
    subscriber.refresh_from_db()
    assert subscriber.active


@pytest.mark.parametrize("url", ["http://10.0.0.5/hook", "http://[::1]:8080/hook",
                                 "http://localhost/hook", "http://169.254.169.254/latest"])
def test_private_webhook_url_is_refused_beside_its_field(client, db, settings, url):
    settings.RELAY_OUTBOUND_ALLOW = []  # production: nothing private is allowed
    response = client.post("/status/subscribe/", {"url": url})
    assert response.status_code == 400
    html = response.content.decode()
    assert '<ul class="errorlist" id="id_url_error"><li>' + outbound.SAVE_ERROR in html
    assert not Subscriber.objects.exists()


def test_webhook_private_at_send_time_is_refused_then(db, settings, http_receiver):
    """Saved while allowed (or before DNS changed): sending checks the address again."""
    settings.RELAY_OUTBOUND_ALLOW = []
    subscriber = Subscriber.objects.create(kind=SubscriberKind.WEBHOOK, secret="s",
                                           url=http_receiver.url)
    notice = SubscriberNotice.objects.create(subscriber=subscriber, kind=NoticeKind.CONFIRM,
                                             key="confirm:1")
    assert delivery.deliver(notice.pk) == NoticeStatus.PENDING
    notice.refresh_from_db()
    assert notice.last_error == outbound.REFUSED_PRIVATE
    assert http_receiver.hits == []


# --- Maintenance --------------------------------------------------------------------------------

def _maintenance(*components) -> Maintenance:
    maintenance = Maintenance.objects.create(
        name="Database upgrade", body="Checkout is read-only for up to ten minutes.",
        starts_at=datetime(2030, 1, 15, 21, 0, tzinfo=UTC),
        ends_at=datetime(2030, 1, 15, 22, 0, tzinfo=UTC))
    maintenance.components.set(components)
    return maintenance


def test_maintenance_email_in_the_page_time_zone(capture, smtp_server, component,
                                                 other_component):
    StatusPage.objects.update_or_create(pk=1, defaults={"time_zone": "Europe/Berlin"})
    _subscriber("checkout@example.test", component)
    _subscriber("dashboard@example.test", other_component)
    maintenance = _maintenance(component)
    with capture():
        notices.for_maintenance(maintenance, "scheduled")
    [mail] = smtp_server
    assert mail["To"] == "checkout@example.test"
    assert mail["Subject"] == "[Relay status] Maintenance scheduled: Database upgrade"
    text = mail.get_content()
    assert "From Tue 15 Jan 2030 22:00 CET" in text and "Until Tue 15 Jan 2030 23:00 CET" in text
    assert "Checkout is read-only for up to ten minutes." in text
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    notice = SubscriberNotice.objects.get()
    assert (notice.kind, notice.key) == (NoticeKind.MAINTENANCE_SCHEDULED,
                                         f"maintenance:{maintenance.pk}:scheduled")


def test_maintenance_update_and_reminder_kinds(capture, smtp_server, component):
    _subscriber("all@example.test")
    maintenance = _maintenance(component)
    started = maintenance.updates.create(state=MaintenanceState.IN_PROGRESS,
                                         body="Started on time.")
    with capture():
        notices.for_maintenance(maintenance, "reminder")
        notices.for_maintenance(maintenance, MaintenanceState.IN_PROGRESS, started)
        notices.for_maintenance(maintenance, MaintenanceState.IN_PROGRESS, started)  # once
    assert sorted(SubscriberNotice.objects.values_list("kind", flat=True)) == [
        NoticeKind.MAINTENANCE_REMINDER, NoticeKind.MAINTENANCE_UPDATE]
    update = next(m for m in smtp_server if "update" in m["Subject"])
    assert "Started on time." in update.get_content()
    with pytest.raises(ValueError):
        notices.for_maintenance(maintenance, "whenever")


def test_each_update_posted_by_hand_is_told_in_its_own_words(capture, smtp_server, component,
                                                             csm):
    _subscriber("all@example.test")
    maintenance = _maintenance(component)
    with capture():
        status_services.post_update(by=csm, maintenance=maintenance,
                                    body="Replica one is upgraded.")
        status_services.post_update(by=csm, maintenance=maintenance,
                                    body="Replica two is upgraded.")
    bodies = [m.get_content() for m in smtp_server]
    assert len(bodies) == 2
    assert "Replica one is upgraded." in bodies[0] and "Replica two" not in bodies[0]
    assert "Replica two is upgraded." in bodies[1]


def test_maintenance_webhook_is_an_incident_with_maintenance_impact(capture, http_receiver,
                                                                    component):
    subscriber = Subscriber.objects.create(kind=SubscriberKind.WEBHOOK, url=http_receiver.url,
                                           secret="shh", confirmed_at=timezone.now())
    maintenance = _maintenance(component)
    with capture():
        notices.for_maintenance(maintenance, "scheduled")
    body = _verify(http_receiver.hits[0], subscriber.secret)
    shown = body["incident"]
    assert (shown["id"], shown["name"], shown["impact"]) == (maintenance.code,
                                                             "Database upgrade", "maintenance")
    assert shown["scheduled_for"] == "2030-01-15T21:00:00.000Z"
    assert body["page"]["status_indicator"] == "none"


# --- Exactly once -------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_racing_deliverers_send_once(smtp_server, component):
    if connection.vendor != "postgresql":
        pytest.skip("row locks race only on PostgreSQL; SQLite serialises every write")
    subscriber = _subscriber("once@example.test")
    notice = SubscriberNotice.objects.create(subscriber=subscriber, kind=NoticeKind.CONFIRM,
                                             key="confirm:race")
    results = race(lambda: delivery.deliver(notice.pk))
    assert sorted(results, key=str) == sorted([NoticeStatus.DELIVERED, None], key=str)
    assert [m["To"] for m in smtp_server] == ["once@example.test"]
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.DELIVERED, 1)


@pytest.mark.django_db(transaction=True)
def test_two_racing_first_subscriptions_of_one_address_make_one_subscriber(smtp_server):
    if connection.vendor != "postgresql":
        pytest.skip("row locks race only on PostgreSQL; SQLite serialises every write")
    errors, start = [], threading.Barrier(2)

    def run():
        start.wait()
        try:
            notices.subscribe_email("twice@example.test", [])
        except Exception as error:  # noqa: BLE001 — the test reports any error
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Subscriber.objects.filter(email="twice@example.test").count() == 1
    assert SubscriberNotice.objects.filter(kind=NoticeKind.CONFIRM).count() == 1
    assert [m["To"] for m in smtp_server] == ["twice@example.test"]


def test_cancelling_an_announced_maintenance_tells_its_subscribers(capture, smtp_server,
                                                                    component, csm):
    _subscriber("all@example.test")
    with capture():
        maintenance = status_services.schedule(
            by=csm, name="Database upgrade", body="Checkout is read-only for ten minutes.",
            components=[component], starts_at=datetime(2030, 1, 15, 21, 0, tzinfo=UTC),
            ends_at=datetime(2030, 1, 15, 22, 0, tzinfo=UTC), remind_minutes=0)
    assert [m["Subject"] for m in smtp_server] == [
        "[Relay status] Maintenance scheduled: Database upgrade"]
    with capture():
        status_services.delete(by=csm, maintenance=maintenance)
    maintenance.refresh_from_db()  # kept: subscribers were told of it
    assert maintenance.state == MaintenanceState.COMPLETED
    assert maintenance.updates.last().body == status_services.CANCELLED
    assert len(smtp_server) == 2
    assert status_services.CANCELLED in smtp_server[1].get_content()


def test_cancelling_an_unannounced_maintenance_deletes_it(component, csm):
    maintenance = status_services.schedule(
        by=csm, name="Database upgrade", body="Nobody subscribed.", components=[component],
        starts_at=datetime(2030, 1, 15, 21, 0, tzinfo=UTC),
        ends_at=datetime(2030, 1, 15, 22, 0, tzinfo=UTC))
    status_services.delete(by=csm, maintenance=maintenance)
    assert not Maintenance.objects.filter(pk=maintenance.pk).exists()
