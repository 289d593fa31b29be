"""Subscribing to the status page: the public pages (double opt-in by email over real SMTP,
one-click unsubscribe, tokens, enumeration, rate limit, hostile input) and the staff list."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from comms.models import NoticeKind, NoticeStatus, Subscriber, SubscriberKind, SubscriberNotice
from comms.status import notices, subscribe
from tests.comms.status.conftest import publish
from tests.conftest import declare

SUBSCRIBE = "/status/subscribe/"
SENT = "/status/subscribe/sent/"


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    cache.clear()  # the per-address counters live in the (per-process, locmem) cache
    yield
    cache.clear()


@pytest.fixture
def capture(db, django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _link(mail, kind: str) -> str:
    """The path of the first /status/<kind>/ link in a received email's body."""
    found = re.search(rf"https?://\S+/status/{kind}/\S+/", mail.get_content())
    assert found, mail.get_content()
    return urlsplit(found.group(0)).path


def _subscribe(client, capture, email="ann@example.test", **extra):
    with capture():
        return client.post(SUBSCRIBE, {"email": email, **extra})


def _confirmed(email="ann@example.test", *components) -> Subscriber:
    subscriber = Subscriber.objects.create(kind=SubscriberKind.EMAIL, email=email)
    subscriber.components.set(components)
    notices.confirm(subscriber)
    subscriber.refresh_from_db()
    return subscriber


# --- The whole way, over real SMTP --------------------------------------------------------------

def test_subscribe_confirm_update_and_one_click_unsubscribe(client, smtp_server, capture,
                                                            incident, csm, component):
    response = _subscribe(client, capture)
    assert (response.status_code, response["Location"]) == (302, SENT)
    assert b"Check your inbox" in client.get(SENT).content
    [confirmation] = smtp_server
    assert confirmation["To"] == "ann@example.test"
    assert confirmation["Subject"] == "Confirm your subscription to Relay status"
    assert confirmation["List-Unsubscribe"] is None
    subscriber = Subscriber.objects.get()
    assert subscriber.confirmed_at is None

    confirm_path = _link(confirmation, "subscribe/confirm")
    page = client.get(confirm_path)  # a link scanner's GET confirms nothing
    assert page.status_code == 200
    assert b'<button type="submit" class="primary">Confirm</button>' in page.content
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None
    done = client.post(confirm_path)
    assert b"Subscribed" in done.content and b"ann@example.test" in done.content
    subscriber.refresh_from_db()
    assert subscriber.active

    with capture():
        message = publish(incident, csm, subject="Card payments failing",
                          body="Some card payments fail at checkout. We are on it.")
    assert len(smtp_server) == 2
    update = smtp_server[1]
    token = notices.manage_token(subscriber)
    assert update["Subject"] == "[Relay status] Card payments failing"
    # A long header is folded after its colon; mail clients unfold it.
    assert update["List-Unsubscribe"].strip() == f"<http://127.0.0.1:8000/status/unsubscribe/{token}/>"
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = update.get_content()
    assert "Some card payments fail at checkout. We are on it." in text
    assert "Affected: Checkout" in text
    assert "Checkout returns 502" not in update.as_string()  # the incident's title is internal
    assert f"/status/subscribe/manage/{token}/" in text
    notice = SubscriberNotice.objects.get(message=message)
    assert (notice.status, notice.attempts, notice.key) == (NoticeStatus.DELIVERED, 1,
                                                           f"message:{message.pk}")

    # RFC 8058: the mail provider POSTs without our cookie or CSRF token.
    provider = Client(enforce_csrf_checks=True)
    one_click = provider.post(urlsplit(update["List-Unsubscribe"].strip()[1:-1]).path,
                              "List-Unsubscribe=One-Click",
                              content_type="application/x-www-form-urlencoded")
    assert one_click.status_code == 200 and b"Unsubscribed" in one_click.content
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None

    with capture():
        later = publish(incident, csm, subject="Card payments recovering",
                        body="A fix is rolling out.", phase="identified")
    assert len(smtp_server) == 2
    assert not SubscriberNotice.objects.filter(message=later).exists()


def test_subscribe_form_needs_its_csrf_token(db):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(SUBSCRIBE, {"email": "ann@example.test"}).status_code == 403
    assert not Subscriber.objects.exists()


def test_subscribe_page_lists_public_components_grouped(client, component, other_component,
                                                        group):
    from comms.models import Component
    Component.objects.create(name="Secret backend", internal=True)
    page = client.get(SUBSCRIBE)
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    assert "Payments" in html and "Checkout" in html and "Dashboard" in html
    assert "Secret backend" not in html


def test_chosen_components_are_kept(client, capture, smtp_server, component, other_component):
    _subscribe(client, capture, components=[other_component.pk])
    assert list(Subscriber.objects.get().components.all()) == [other_component]


# --- Enumeration and repeats --------------------------------------------------------------------

def test_new_and_existing_addresses_get_the_same_answer(client, capture, smtp_server):
    _confirmed("old@example.test")
    fresh = _subscribe(client, capture, email="new@example.test")
    known = _subscribe(client, capture, email="old@example.test")
    assert (fresh.status_code, fresh["Location"]) == (known.status_code, known["Location"])
    assert fresh.content == known.content
    assert Subscriber.objects.filter(email="old@example.test").count() == 1
    by_address = {m["To"]: m for m in smtp_server}
    assert by_address["new@example.test"]["Subject"].startswith("Confirm your subscription")
    manage = by_address["old@example.test"]
    assert manage["Subject"] == "Your subscription to Relay status"
    assert "already subscribed" in manage.get_content()
    assert "/status/subscribe/confirm/" not in manage.get_content()
    _link(manage, "subscribe/manage")


def test_a_stranger_cannot_change_an_existing_subscription(client, capture, smtp_server,
                                                           component, other_component):
    existing = _confirmed("old@example.test", component)
    _subscribe(client, capture, email="OLD@EXAMPLE.TEST".replace("OLD", "old"),
               components=[other_component.pk])
    assert list(existing.components.all()) == [component]


def test_confirmation_is_resent_at_most_once_per_few_minutes(client, capture, smtp_server):
    _subscribe(client, capture)
    _subscribe(client, capture)
    assert len(smtp_server) == 1
    SubscriberNotice.objects.update(created_at=SubscriberNotice.objects.get().created_at
                                    - notices.RESEND - timedelta(seconds=1))
    _subscribe(client, capture)
    assert len(smtp_server) == 2
    assert Subscriber.objects.count() == 1
    assert SubscriberNotice.objects.filter(kind=NoticeKind.CONFIRM).count() == 2


def test_subscribe_posts_are_rate_limited_per_address(client, capture, smtp_server,
                                                      monkeypatch):
    monkeypatch.setattr(subscribe, "SUBSCRIBE_LIMIT", 2)
    for n in range(2):
        assert _subscribe(client, capture, email=f"a{n}@example.test").status_code == 302
    refused = _subscribe(client, capture, email="a9@example.test")
    assert refused.status_code == 429
    assert subscribe.TOO_MANY.encode() in refused.content
    assert not Subscriber.objects.filter(email="a9@example.test").exists()
    other = Client(REMOTE_ADDR="192.0.2.7")
    assert _subscribe(other, capture, email="b@example.test").status_code == 302


# --- Tokens -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/status/subscribe/confirm/nonsense/", "/status/subscribe/manage/nonsense/",
    "/status/unsubscribe/nonsense/", "/status/subscribe/confirm/" + "x" * 5000 + "/",
    "/status/unsubscribe/%F0%9F%92%A5:%00/",
])
def test_a_bad_link_is_a_clear_page_not_an_error(client, db, path):
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 404
        assert b"This link is not valid" in response.content


def test_tokens_are_not_interchangeable_and_confirmation_expires(client, db, monkeypatch):
    subscriber = Subscriber.objects.create(kind=SubscriberKind.EMAIL, email="ann@example.test")
    manage = notices.manage_token(subscriber)
    confirm = notices.confirm_token(subscriber)
    assert client.get(f"/status/subscribe/confirm/{manage}/").status_code == 404
    assert client.post(f"/status/unsubscribe/{confirm}/").status_code == 404
    tampered = confirm[:-1] + ("A" if confirm[-1] != "A" else "B")
    assert client.post(f"/status/subscribe/confirm/{tampered}/").status_code == 404
    monkeypatch.setattr(notices, "CONFIRM_MAX_AGE", timedelta(seconds=-1))
    expired = client.post(f"/status/subscribe/confirm/{confirm}/")
    assert expired.status_code == 404 and b"expired" in expired.content
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None and subscriber.unsubscribed_at is None


def test_manage_changes_components_and_unsubscribes(client, component, other_component):
    subscriber = _confirmed("ann@example.test", component)
    path = f"/status/subscribe/manage/{notices.manage_token(subscriber)}/"
    page = client.get(path)
    assert page.status_code == 200
    assert f'value="{component.pk}" id="id_components_0_0" checked' in page.content.decode()
    saved = client.post(path, {"components": [other_component.pk]})
    assert saved.status_code == 200 and b"Saved." in saved.content
    assert list(subscriber.components.all()) == [other_component]
    everything = client.post(path, {})
    assert everything.status_code == 200
    assert not subscriber.components.exists()
    bad = client.post(path, {"components": ["9" * 400]})
    assert bad.status_code == 400 and b"Select a valid choice" in bad.content
    unsub_path = f"/status/unsubscribe/{notices.manage_token(subscriber)}/"
    assert b"Stop sending" in client.get(unsub_path).content
    client.post(unsub_path)
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    assert b"This subscription was cancelled" in client.get(path).content
    assert client.post(path, {"components": [component.pk]}).status_code == 200
    assert not subscriber.components.exists()


# --- Hostile input ------------------------------------------------------------------------------

@pytest.mark.parametrize("data, field", [
    ({}, "email"),
    ({"email": ""}, "email"),
    ({"email": "not an address"}, "email"),
    ({"email": "a" * 5000 + "@example.test"}, "email"),
    ({"email": "ann\x00@example.test"}, "email"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"url": "https://" + "a" * 3000 + ".test/"}, "url"),
    ({"url": "http://user:pw@example.test/hook"}, "url"),
    ({"email": "ann@example.test", "components": ["9" * 400]}, "components"),
    ({"email": "ann@example.test", "components": ["nope"]}, "components"),
    ({"email": "ann@example.test", "components": ["-1"]}, "components"),
])
def test_hostile_subscribe_input_is_a_form_error(client, smtp_server, component, data, field):
    response = client.post(SUBSCRIBE, data)
    assert response.status_code == 400
    html = response.content.decode()
    # The error sits beside its field (Django's field group: the field's errors, then it).
    assert re.search(rf'<ul class="errorlist" id="id_{field}_error">', html), html[:2000]
    assert not Subscriber.objects.exists()
    assert smtp_server == []


def test_both_email_and_url_is_refused(client, db):
    response = client.post(SUBSCRIBE, {"email": "ann@example.test",
                                       "url": "https://hooks.example.test/x"})
    assert response.status_code == 400
    assert b"not both" in response.content


def test_unicode_addresses(client, capture, smtp_server):
    refused = client.post(SUBSCRIBE, {"email": "Zoë@example.test"})  # Django: ASCII local parts
    assert refused.status_code == 400 and b'id="id_email_error"' in refused.content
    response = _subscribe(client, capture, email="zoe@Bücher.Example")
    assert response.status_code == 302
    assert Subscriber.objects.get().email == "zoe@bücher.example"
    assert smtp_server[0]["To"] == "zoe@xn--bcher-kva.example"


def test_undecodable_body_is_a_form_error(client, db):
    response = client.post(SUBSCRIBE, b"email=%ED%A0%80%FF%40example.test&components=%00",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert not Subscriber.objects.exists()


# --- Staff list ---------------------------------------------------------------------------------

def _many(count: int, start: int = 0):
    for n in range(start, start + count):
        subscriber = _confirmed(f"s{n}@example.test")
        for k in range(3):
            SubscriberNotice.objects.create(subscriber=subscriber, key=f"x:{k}",
                                            kind=NoticeKind.INCIDENT_UPDATE,
                                            status=NoticeStatus.FAILED, last_error=f"err {k}")


def test_staff_list_shows_counts_and_last_notices_in_constant_queries(client, csm, component):
    client.force_login(csm)
    _many(2)
    client.get("/status/manage/subscribers/")  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        first = client.get("/status/manage/subscribers/")
    _many(8, start=2)
    Subscriber.objects.create(kind=SubscriberKind.WEBHOOK, url="https://hooks.example.test/a",
                              secret="x")
    with CaptureQueriesContext(connection) as more:
        second = client.get("/status/manage/subscribers/")
    assert len(few) == len(more)
    html = second.content.decode()
    assert first.status_code == second.status_code == 200
    assert "<strong>10</strong> email" in html and "<strong>1</strong> awaiting" in html
    assert "s9@example.test" in html and "https://hooks.example.test/a" in html
    assert html.count("err 2") == 10
    assert "Delete</button>" in html


def test_staff_list_pages(client, csm, monkeypatch):
    monkeypatch.setattr(subscribe, "PER_PAGE", 2)
    client.force_login(csm)
    _many(3)
    first = client.get("/status/manage/subscribers/").content.decode()
    second = client.get("/status/manage/subscribers/?page=2").content.decode()
    assert "s2@example.test" in first and "s0@example.test" not in first
    assert "s0@example.test" in second and "Page 2 of 2" in second


def test_staff_list_is_for_subscriber_viewers_only(client, commander, auditor):
    assert client.get("/status/manage/subscribers/").status_code == 302  # to the login page
    client.force_login(commander)
    assert client.get("/status/manage/subscribers/").status_code == 403
    client.force_login(auditor)
    page = client.get("/status/manage/subscribers/")
    assert page.status_code == 200 and b"Delete</button>" not in page.content


def test_delete_subscriber(client, csm, auditor):
    subscriber = _confirmed("gone@example.test")
    SubscriberNotice.objects.create(subscriber=subscriber, key="x", kind=NoticeKind.CONFIRM)
    path = f"/status/manage/subscribers/{subscriber.pk}/delete/"
    client.force_login(auditor)
    assert client.post(path).status_code == 403
    client.force_login(csm)
    assert client.get(path).status_code == 405
    assert client.post("/status/manage/subscribers/" + "9" * 400 + "/delete/").status_code == 404
    response = client.post(path, follow=True)
    assert response.redirect_chain == [("/status/manage/subscribers/", 302)]
    assert b"Deleted the subscriber gone@example.test" in response.content
    assert not Subscriber.objects.exists() and not SubscriberNotice.objects.exists()


def test_staff_page_lists_a_restricted_incident_notice_never(client, csm, commander, service,
                                                             component, capture, smtp_server):
    _confirmed("ann@example.test")
    restricted = declare(by=commander, title="Secret breach", services=[service],
                         restricted=True)
    with capture():
        publish(restricted, csm, subject="Hush", body="Hush hush.")
    assert not SubscriberNotice.objects.exists()
    assert smtp_server == []
