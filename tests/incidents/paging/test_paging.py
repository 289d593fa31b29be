"""Delivering pages over real channels on loopback (aiosmtpd, an HTTP receiver standing in for
webhooks, Slack and the SMS gateway), signed action links, retries and failure."""

import re
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from incidents.models import EntryKind, EscalationRun, Page, PageStatus, Status
from incidents.paging import delivery, escalation, links
from tests.conftest import declare, make_user
from tests.oncall.conftest import add_contact, make_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(db):
    return make_user("ann", "Responders")


def _page(ann, *contacts, steps=None, title="Checkout <502s>"):
    for kind, address in contacts:
        add_contact(ann, kind, address)
    policy = make_policy(*(steps or [{"users": [ann]}]))
    incident = declare(title=title, escalation_policy=policy)
    escalation.advance(incident.escalation_run.pk)
    return incident


def _link(text, action):
    return re.search(rf"{action.capitalize()}: (http\S+)", text).group(1)


def test_email_page_carries_signed_links_and_reply_token(ann, smtp_server):
    incident = _page(ann, ("email", "ann@example.test"))
    escalation.tick()
    [mail] = smtp_server
    assert mail["To"] == "ann@example.test"
    assert mail["Subject"] == f"[Relay] {incident.reference} P2: Checkout <502s>"
    body = mail.get_content()
    page = Page.objects.get(incident=incident)
    assert links.page_for_token(_link(body, "acknowledge").split("/")[-3],
                                     "acknowledge") == page
    assert _link(body, "resolve").endswith("/resolve/")
    assert links.page_for_reply_address(str(mail["Reply-To"])) == page
    assert links.page_for_message_id(mail["Message-ID"]) == page
    entry = incident.timeline.get(kind=EntryKind.PAGE_DELIVERED)
    assert entry.data["user"] == "ann" and entry.data["channel"] == "email"


def test_link_get_only_asks_and_post_acknowledges_as_the_paged_person(client, ann, smtp_server):
    incident = _page(ann, ("email", "ann@example.test"))
    escalation.tick()
    url = _link(smtp_server[0].get_content(), "acknowledge").removeprefix("http://127.0.0.1:8000")
    response = client.get(url)
    assert response.status_code == 200
    assert b"Acknowledge INC-" in response.content and b"Checkout &lt;502s&gt;" in response.content
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    response = client.post(url)
    assert response.status_code == 200 and b"page-action-done" in response.content
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert incident.timeline.get(kind=EntryKind.STATUS).actor == ann
    again = client.post(url)
    assert again.status_code == 403 and b"already been used" in again.content


def test_resolve_link_resolves(client, ann):
    incident = _page(ann, ("email", "ann@example.test"))
    page = Page.objects.get(incident=incident)
    url = reverse("paging:page-action", args=[links.token_for(page, "resolve"), "resolve"])
    assert client.post(url).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_tampered_or_expired_links_are_refused(client, ann, settings):
    incident = _page(ann, ("email", "ann@example.test"))
    page = Page.objects.get(incident=incident)
    token = links.token_for(page, "acknowledge")
    bad = client.post(reverse("paging:page-action", args=[token[:-2] + "xx", "acknowledge"]))
    assert bad.status_code == 400 and b"not valid" in bad.content
    settings.RELAY_PAGE_LINK_HOURS = 0  # the token carries its own timestamp
    expired = client.post(reverse("paging:page-action", args=[token, "acknowledge"]))
    assert expired.status_code == 400 and b"expired" in expired.content
    assert client.get(reverse("paging:page-action", args=[token, "delete"])).status_code == 404
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_webhook_and_slack_payloads_carry_the_same_links(ann, http_receiver):
    incident = _page(ann, ("webhook", http_receiver.url), ("slack", http_receiver.url + "/slack"))
    escalation.tick()
    payloads = dict(http_receiver.requests)
    generic, slack = payloads["/hook"], payloads["/hook/slack"]
    assert generic["incident"] == incident.reference and generic["severity"] == "P2"
    assert set(generic["links"]) == {"acknowledge", "resolve", "incident"}
    buttons = {b["text"]["text"]: b["url"] for b in slack["blocks"][1]["elements"]}
    assert buttons["Acknowledge"].split("/")[-2:] == generic["links"]["acknowledge"].split("/")[-2:]
    assert slack["text"].startswith(f"[Relay] {incident.reference}")
    assert slack["blocks"][0]["text"]["type"] == "mrkdwn"


def test_slack_page_shows_alert_markup_as_text_and_keeps_the_real_buttons(ann, http_receiver):
    summary = "<https://evil.example|Click here to acknowledge> <!channel>"
    incident = _page(ann, ("slack", http_receiver.url), title=summary)
    escalation.tick()
    [(_, slack)] = http_receiver.requests
    escaped = "&lt;https://evil.example|Click here to acknowledge&gt; &lt;!channel&gt;"
    section = slack["blocks"][0]["text"]["text"]
    assert escaped in slack["text"] and escaped in section
    assert "<" not in slack["text"] + section  # no fake link, no @channel
    page = Page.objects.get(incident=incident)
    buttons = {b["text"]["text"]: b["url"] for b in slack["blocks"][1]["elements"]}
    assert set(buttons) == {"Acknowledge", "Resolve", "Incident"}
    assert buttons["Incident"] == links.incident_url(page)
    for action in ("acknowledge", "resolve"):  # each button is that action's signed link
        token = buttons[action.capitalize()].split("/")[-3]
        assert links.page_for_token(token, action) == page


@pytest.mark.parametrize("kind", ["webhook", "slack", "sms"])
def test_pages_to_a_loopback_url_are_refused_in_safe_words(ann, http_receiver, settings, kind):
    settings.RELAY_OUTBOUND_ALLOW = ()
    settings.RELAY_SMS_GATEWAY_URL = http_receiver.url
    address = "+4915112345678" if kind == "sms" else http_receiver.url  # saved before the check
    incident = _page(ann, (kind, address))
    page = Page.objects.get(incident=incident)
    assert delivery.deliver(page.pk) == PageStatus.PENDING
    page.refresh_from_db()
    assert page.last_error == "refused: private address"
    assert http_receiver.requests == []


def test_sms_and_voice_go_through_the_gateway(ann, http_receiver, settings):
    settings.RELAY_SMS_GATEWAY_URL = http_receiver.url
    incident = _page(ann, ("sms", "+4915112345678"), ("voice", "+4915112345678"))
    escalation.tick()
    sent = sorted((body["type"], body["to"]) for _, body in http_receiver.requests)
    assert sent == [("sms", "+4915112345678"), ("voice", "+4915112345678")]
    sms = next(body for _, body in http_receiver.requests if body["type"] == "sms")
    assert len(sms["body"]) <= 160 and "/pages/" in sms["body"]
    assert {p.status for p in Page.objects.filter(incident=incident)} == {PageStatus.SENT}
    assert incident.timeline.filter(kind=EntryKind.PAGE_SENT).count() == 2


def test_failed_sends_retry_with_backoff_then_fail_and_move_on(ann, http_receiver):
    bob = make_user("bob", "Responders")
    add_contact(bob)
    http_receiver.status = 500
    incident = _page(ann, ("webhook", http_receiver.url),
                     steps=[{"users": [ann], "delay": 30}, {"users": [bob]}])
    page = Page.objects.get(incident=incident)
    now = timezone.now()
    assert delivery.deliver(page.pk, now=now) == PageStatus.PENDING
    page.refresh_from_db()
    assert page.due_at == now + timedelta(seconds=5) and "HTTP 500" in page.last_error
    assert delivery.deliver(page.pk, now=now + timedelta(seconds=4)) is None  # not yet due
    for later in (5, 20, 65):
        last = now + timedelta(seconds=later)
        delivery.deliver(page.pk, now=last)
    page.refresh_from_db()
    assert page.status == PageStatus.FAILED and page.attempts == 4
    assert len(http_receiver.requests) == 4
    assert incident.timeline.filter(kind=EntryKind.PAGE_FAILED).count() == 1
    assert incident.timeline.filter(kind=EntryKind.NOTIFICATION).last().note == \
        "Could not reach ann: every contact method failed."
    run = EscalationRun.objects.get(incident=incident)
    assert run.next_action_at == last  # the step's 30 minutes are not waited out
    escalation.advance(run.pk, now=last)
    assert Page.objects.filter(incident=incident, user=bob).exists()


def test_unreachable_gateway_is_a_failure_with_a_reason(ann, settings):
    settings.RELAY_SMS_GATEWAY_URL = ""
    incident = _page(ann, ("sms", "+4915112345678"))
    page = Page.objects.get(incident=incident)
    delivery.deliver(page.pk)
    page.refresh_from_db()
    assert page.status == PageStatus.PENDING and "No SMS/voice gateway" in page.last_error


def test_a_claimed_page_is_not_sent_again_until_the_claim_goes_stale(ann, http_receiver):
    incident = _page(ann, ("webhook", http_receiver.url))
    page = Page.objects.get(incident=incident)
    now = timezone.now()
    Page.objects.filter(pk=page.pk).update(claimed_at=now)  # a worker died while sending
    assert delivery.deliver(page.pk, now=now + timedelta(seconds=10)) is None
    assert delivery.due_pages(now + timedelta(seconds=10)) == []
    assert delivery.due_pages(now + timedelta(seconds=21)) == [page.pk]
    assert delivery.deliver(page.pk, now=now + timedelta(seconds=21)) == PageStatus.DELIVERED
    assert len(http_receiver.requests) == 1


@pytest.mark.parametrize("kind", ["webhook", "slack", "sms", "voice"])
def test_a_resend_after_a_worker_died_mid_send_carries_the_same_idempotency_key(
        ann, http_receiver, settings, kind):
    # The worker sent, then died before it could mark the page: its claim goes stale and the
    # page goes out again. The receiver is told it is the same delivery.
    settings.RELAY_SMS_GATEWAY_URL = http_receiver.url
    address = "+4915112345678" if kind in ("sms", "voice") else http_receiver.url
    incident = _page(ann, (kind, address))
    page = Page.objects.get(incident=incident)
    assert delivery.deliver(page.pk) is not None
    sent_at = Page.objects.get(pk=page.pk).sent_at
    Page.objects.filter(pk=page.pk).update(status=PageStatus.PENDING, finished_at=None)
    later = sent_at + delivery.CLAIM_STALE + timedelta(seconds=1)
    assert delivery.deliver(page.pk, now=later) is not None
    keys = [hit["headers"].get("Idempotency-Key") for hit in http_receiver.hits]
    assert keys == [f"relay-page-{page.pk}"] * 2

    bob = make_user("bob", "Responders")
    add_contact(bob, kind, address)
    other = declare(title="Search down", escalation_policy=make_policy({"users": [bob]},
                                                                       name="Search"))
    escalation.advance(other.escalation_run.pk)
    other_page = Page.objects.get(incident=other)
    delivery.deliver(other_page.pk, now=later + timedelta(minutes=20))
    assert http_receiver.hits[-1]["headers"]["Idempotency-Key"] == f"relay-page-{other_page.pk}"


def test_a_bundles_key_names_its_pages_and_changes_when_it_gains_one():
    pages = [Page(pk=7), Page(pk=3)]
    key = delivery.delivery_key(pages)
    assert key.startswith("relay-pages-") and key == delivery.delivery_key(pages[::-1])
    assert delivery.delivery_key([*pages, Page(pk=9)]) != key
    assert delivery.delivery_key([Page(pk=3)]) == "relay-page-3"


def test_email_notices_keep_their_message_id_on_a_resend(ann, smtp_server, settings):
    incident = _page(ann, ("email", "ann@example.test"))
    page = Page.objects.get(incident=incident)
    from incidents.paging import messages
    first, again = messages.message_for(page), messages.message_for(page)
    assert first.message_id == again.message_id  # the page's: its reply token
    notice = Page.objects.get(pk=page.pk)
    notice.pk, notice.purpose, notice.subject, notice.body = None, "notice", "Handed over", "x"
    notice.save()
    assert messages.message_for(notice).message_id == (
        f"<relay-notice-{notice.pk}@{urlsplit(settings.SITE_URL).hostname}>"
    ) == messages.message_for(notice).message_id


@pytest.mark.django_db(transaction=True)
def test_parallel_deliveries_of_one_page_send_it_once(http_receiver):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (CI runs the suite on both)")
    ann = make_user("ann", "Responders")
    incident = _page(ann, ("webhook", http_receiver.url))
    page = Page.objects.get(incident=incident)
    # Committed for real here, so declare() already delivered it through the sync task queue:
    assert page.status == PageStatus.DELIVERED and len(http_receiver.requests) == 1
    Page.objects.filter(pk=page.pk).update(status=PageStatus.PENDING, claimed_at=None)
    http_receiver.requests.clear()
    results = []

    def worker():
        results.append(delivery.deliver(page.pk))
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [None] * 7 + [PageStatus.DELIVERED]
    assert len(http_receiver.requests) == 1
