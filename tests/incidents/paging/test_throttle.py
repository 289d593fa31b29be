"""Per contact-method throttles and bundling: pages held back are sent together as one message,
identical pending pages collapse, and the default limits hold (1 a minute; 5 SMS and 3 calls per
15 minutes)."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import EntryKind, Page, PageStatus
from incidents.paging import delivery, escalation
from tests.conftest import declare, make_user
from tests.oncall.conftest import add_contact, make_policy

pytestmark = pytest.mark.django_db
_policies = itertools.count(1)


@pytest.fixture
def ann(db):
    return make_user("ann", "Responders")


def _page_ann(ann, service, count):
    policy = make_policy({"users": [ann]}, name=f"Policy {_policies.__next__()}")
    incidents = [declare(title=f"Checkout down {i}", escalation_policy=policy,
                         services=[service]) for i in range(count)]
    for incident in incidents:
        escalation.advance(incident.escalation_run.pk)
    return incidents


def _hold_all():
    """Make every page due far ahead, so each test decides which one is due when."""
    Page.objects.update(due_at=timezone.now() + timedelta(days=1))


def test_pages_at_once_are_one_message_and_later_ones_wait_a_minute(ann, service, smtp_server):
    add_contact(ann)
    incidents = _page_ann(ann, service, 3)
    now = timezone.now()
    escalation.tick(now=now)
    [bundle] = smtp_server
    assert bundle["Subject"] == "[Relay] 3 incidents on Checkout API need you"
    body = bundle.get_content()
    for incident in incidents:
        assert f"{incident.reference} P2: {incident.title}" in body
    assert body.count("Acknowledge: http") == 3
    pages = list(Page.objects.order_by("id"))
    assert {p.status for p in pages} == {PageStatus.DELIVERED}
    assert {p.bundle_id for p in pages} == {pages[0].pk}
    assert incidents[2].timeline.get(kind=EntryKind.PAGE_DELIVERED).data["bundled_with"] == 2
    [late] = _page_ann(ann, service, 1)
    escalation.tick(now=now + timedelta(seconds=10))
    assert len(smtp_server) == 1  # the method carried a message 10 s ago
    held = Page.objects.get(incident=late)
    assert held.status == PageStatus.PENDING and held.due_at == now + timedelta(minutes=1)
    escalation.tick(now=now + timedelta(minutes=1))
    assert len(smtp_server) == 2 and smtp_server[-1]["Subject"].startswith(
        f"[Relay] {late.reference} P2")


def test_identical_pending_pages_collapse_into_one_line(ann, service, http_receiver):
    add_contact(ann, "webhook", http_receiver.url)
    [incident] = _page_ann(ann, service, 1)
    page = Page.objects.get()
    Page.objects.filter(pk=page.pk).update(due_at=timezone.now() + timedelta(minutes=5))
    Page.objects.create(incident=incident, run=page.run, step=0, round=1, user=ann,
                        contact_method=page.contact_method, channel="webhook",
                        address=http_receiver.url, due_at=timezone.now() + timedelta(minutes=5))
    escalation.tick(now=timezone.now() + timedelta(minutes=5))
    [(_, body)] = http_receiver.requests
    assert body["purpose"] == "page" and body["number"] == incident.pk  # one message, one line
    assert set(Page.objects.values_list("status", flat=True)) == {PageStatus.DELIVERED}


def test_webhook_bundle_lists_each_incident_with_its_links(ann, service, http_receiver):
    add_contact(ann, "webhook", http_receiver.url)
    incidents = _page_ann(ann, service, 3)
    escalation.tick()
    [(_, bundle)] = http_receiver.requests
    assert bundle["purpose"] == "bundle"
    assert bundle["subject"] == "[Relay] 3 incidents on Checkout API need you"
    assert [item["number"] for item in bundle["items"]] == [i.pk for i in incidents]
    assert all(set(item["links"]) == {"acknowledge", "resolve", "incident"}
               for item in bundle["items"])


def _send_sms(page, at):
    Page.objects.filter(pk=page.pk).update(due_at=at)
    return delivery.deliver(page.pk, now=at)


@pytest.mark.parametrize(("kind", "limit"), [("sms", 5), ("voice", 3)])
def test_gateway_methods_allow_their_messages_per_fifteen_minutes(kind, limit, ann, service,
                                                                  http_receiver, settings):
    """5 SMS or 3 calls in 15 minutes; the next one waits until the window has room."""
    settings.RELAY_SMS_GATEWAY_URL = http_receiver.url
    add_contact(ann, kind, "+4915112345678")
    _page_ann(ann, service, limit + 1)
    _hold_all()
    start = timezone.now()
    pages = list(Page.objects.order_by("id"))
    for minute, page in enumerate(pages[:limit]):
        assert _send_sms(page, start + timedelta(minutes=2 * minute)) == PageStatus.SENT
    extra = pages[limit]
    assert _send_sms(extra, start + timedelta(minutes=10)) is None  # one too many: it waits
    extra.refresh_from_db()
    assert extra.due_at == start + timedelta(minutes=15)
    assert delivery.deliver(extra.pk, now=start + timedelta(minutes=15)) == PageStatus.SENT


def test_a_method_can_set_its_own_throttle(ann, service, smtp_server):
    method = add_contact(ann)
    method.throttle_count, method.throttle_minutes = 3, 1
    method.save()
    _page_ann(ann, service, 4)
    _hold_all()
    pages = list(Page.objects.order_by("id"))
    now = timezone.now()
    for page in pages[:3]:
        assert _send_sms(page, now) == PageStatus.DELIVERED
    assert len(smtp_server) == 3
    assert _send_sms(pages[3], now + timedelta(seconds=30)) is None


def test_a_send_by_a_dead_worker_does_not_hold_back_the_retry(ann, service, http_receiver):
    add_contact(ann, "webhook", http_receiver.url)
    _page_ann(ann, service, 1)
    page = Page.objects.get()
    now = timezone.now()
    Page.objects.filter(pk=page.pk).update(claimed_at=now, sent_at=now, bundle_id=page.pk)
    later = now + delivery.CLAIM_STALE + timedelta(seconds=1)
    assert delivery.deliver(page.pk, now=later) == PageStatus.DELIVERED


def _users_in(body) -> set[str]:
    return {item["user"] for item in body.get("items", [body])}


def test_people_sharing_a_webhook_are_throttled_each_on_their_own(ann, service, http_receiver):
    bob = make_user("bob", "Responders")
    for user in (ann, bob):
        add_contact(user, "webhook", http_receiver.url)  # one team channel for both
    policy = make_policy({"users": [ann, bob]}, name="Shared hook")
    incidents = [declare(title=f"Checkout down {i}", escalation_policy=policy,
                         services=[service]) for i in range(2)]
    for incident in incidents:
        escalation.advance(incident.escalation_run.pk)
    now = timezone.now()
    escalation.tick(now=now)
    bodies = [body for _, body in http_receiver.requests]
    assert sorted(_users_in(body).pop() for body in bodies) == ["ann", "bob"]
    for body in bodies:  # each person's two pages are one message with both incidents
        assert _users_in(body) == {body["items"][0]["user"]}
        assert [item["number"] for item in body["items"]] == [i.pk for i in incidents]
    late = declare(title="Checkout down again", escalation_policy=policy, services=[service])
    escalation.advance(late.escalation_run.pk)
    escalation.tick(now=now + timedelta(seconds=10))
    assert len(http_receiver.requests) == 2  # each method carried a message 10 s ago
    held = Page.objects.filter(incident=late)
    assert {(p.status, p.due_at) for p in held} == {(PageStatus.PENDING,
                                                    now + timedelta(minutes=1))}
    escalation.tick(now=now + timedelta(minutes=1))
    assert sorted(body["user"] for _, body in http_receiver.requests[2:]) == ["ann", "bob"]
