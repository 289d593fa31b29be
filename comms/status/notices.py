"""Subscribers and the notices they are owed: subscribing (double opt-in), confirming, changing
components, unsubscribing, and one SubscriberNotice outbox row per subscriber for each published
status-page message and each maintenance step. delivery.py sends the rows.

The subscribe form never tells whether an address is already subscribed: every address gets the
same answer, and the difference is only in the email its owner receives (a confirmation, or a
"manage your subscription" link for one already confirmed), at most one per RESEND.

Links carry signed tokens (django.core.signing, a salt per purpose): a confirmation link expires
after CONFIRM_MAX_AGE; manage and unsubscribe links do not, because they sit in every email and
RFC 8058's one-click unsubscribe must work months later. They name the subscriber by its random
`token`, never by its primary key.
"""

import secrets
from datetime import timedelta

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from comms.models import (
    CustomerMessage,
    Maintenance,
    MaintenanceState,
    MaintenanceUpdate,
    NoticeKind,
    NoticeStatus,
    PublicIncident,
    Subscriber,
    SubscriberKind,
    SubscriberNotice,
)
from comms.status import public
from config.errors import Invalid, NotAllowed

CONFIRM_SALT = "relay.status.subscriber.confirm"
MANAGE_SALT = "relay.status.subscriber.manage"
CONFIRM_MAX_AGE = timedelta(days=7)
RESEND = timedelta(minutes=5)  # an address gets at most one confirmation (or manage) email per
DELIVER_TASK = "comms.status.tasks.deliver_notice"
# "scheduled" is also a MaintenanceState: being scheduled is the announcement, not an update.
MAINTENANCE_KINDS = {**{state.value: NoticeKind.MAINTENANCE_UPDATE for state in MaintenanceState},
                     "scheduled": NoticeKind.MAINTENANCE_SCHEDULED,
                     "reminder": NoticeKind.MAINTENANCE_REMINDER,
                     "update": NoticeKind.MAINTENANCE_UPDATE}


# --- Signed links -------------------------------------------------------------------------------

def confirm_token(subscriber: Subscriber) -> str:
    return signing.TimestampSigner(salt=CONFIRM_SALT).sign(subscriber.token)


def manage_token(subscriber: Subscriber) -> str:
    return signing.Signer(salt=MANAGE_SALT).sign(subscriber.token)


def by_confirm_token(value: str) -> Subscriber | None:
    """The subscriber a confirmation link names; None when forged, expired or gone."""
    try:
        token = signing.TimestampSigner(salt=CONFIRM_SALT).unsign(value, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    return Subscriber.objects.filter(token=token, unsubscribed_at=None).first()


def by_manage_token(value: str) -> Subscriber | None:
    try:
        token = signing.Signer(salt=MANAGE_SALT).unsign(value)
    except signing.BadSignature:
        return None
    return Subscriber.objects.filter(token=token).first()


# --- Subscribing --------------------------------------------------------------------------------

def normalise_email(address: str) -> str:
    """Domains are case-insensitive; the local part is kept as typed."""
    local, _, domain = address.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def subscribe_email(email: str, components) -> None:
    """A new subscriber is unconfirmed and gets a confirmation; an existing one is left as it is
    (a stranger must not change someone's subscription) and gets its email again, unless one went
    out within RESEND. The caller answers the same either way."""
    email = normalise_email(email)
    with transaction.atomic():
        subscriber = _existing(email)
        if subscriber is None:
            try:
                with transaction.atomic():  # two first subscriptions of one address may race
                    subscriber = Subscriber.objects.create(kind=SubscriberKind.EMAIL,
                                                           email=email)
                    subscriber.components.set(components)
            except IntegrityError:
                subscriber = _existing(email)
        _queue_confirm(subscriber)


def _existing(email: str) -> Subscriber | None:
    return (Subscriber.objects.select_for_update()
            .filter(kind=SubscriberKind.EMAIL, email__iexact=email, unsubscribed_at=None)
            .first())


def subscribe_webhook(url: str, components) -> Subscriber:
    """An unconfirmed webhook subscriber with a new secret (the caller shows it once). It is
    confirmed when the confirmation POST to its URL succeeds (delivery.py)."""
    with transaction.atomic():
        subscriber = Subscriber.objects.create(kind=SubscriberKind.WEBHOOK, url=url,
                                               secret=secrets.token_urlsafe(32))
        subscriber.components.set(components)
        _queue_confirm(subscriber)
    return subscriber


def _queue_confirm(subscriber: Subscriber) -> None:
    now = timezone.now()
    recent = subscriber.notices.filter(kind=NoticeKind.CONFIRM, created_at__gt=now - RESEND)
    if recent.exists():
        return
    notice = SubscriberNotice.objects.create(subscriber=subscriber, kind=NoticeKind.CONFIRM,
                                             key=f"confirm:{now.timestamp():.6f}")
    transaction.on_commit(lambda: _start([notice.pk]))


def confirm(subscriber: Subscriber) -> Subscriber:
    """The confirmation link's POST (email) or a successful confirmation POST (webhook)."""
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.unsubscribed_at is not None:
            raise Invalid("This subscription was cancelled; subscribe again.")
        if subscriber.confirmed_at is None:
            subscriber.confirmed_at = timezone.now()
            subscriber.save(update_fields=["confirmed_at"])
    return subscriber


def set_components(subscriber: Subscriber, components) -> None:
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.unsubscribed_at is not None:
            raise Invalid("This subscription was cancelled; subscribe again.")
        subscriber.components.set(components)


def unsubscribe(subscriber: Subscriber) -> None:
    """Idempotent: a second click (or a mail client's repeated one-click POST) changes nothing.
    Pending notices stay; delivery skips them (marked failed: "unsubscribed")."""
    Subscriber.objects.filter(pk=subscriber.pk, unsubscribed_at=None).update(
        unsubscribed_at=timezone.now())


def delete(subscriber: Subscriber, *, by) -> None:
    """Staff remove a subscriber (and its notices: pending ones are never sent)."""
    if not by.has_perm("comms.delete_subscriber"):
        raise NotAllowed("Your role cannot delete subscribers.")
    subscriber.delete()


# --- Fan-out ------------------------------------------------------------------------------------

def _active():
    return Subscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at=None)


def _interested(component_ids) -> list[int]:
    """Active subscribers who chose no component (all of them) or one of these."""
    wanted = Q(components__isnull=True)
    if component_ids:
        wanted |= Q(components__in=list(component_ids))
    return list(_active().filter(wanted).values_list("pk", flat=True).distinct())


def for_message(message: CustomerMessage) -> None:
    """A message for the status page was published: queue a notice per subscriber of the public
    components its incident affects. Never for a restricted incident."""
    if message.incident.restricted or not message.to_status_page:
        return
    rows = PublicIncident.objects.filter(incident_id=message.incident_id).select_related("incident")
    views = public.incident_views(rows)
    affected = {c.pk for view in views for c in view.components}
    _queue(_interested(affected), NoticeKind.INCIDENT_UPDATE, f"message:{message.pk}",
           message=message)


def for_maintenance(maintenance: Maintenance, kind: str,
                    update: MaintenanceUpdate | None = None) -> None:
    """A maintenance was scheduled, is about to start (kind "reminder"), changed state (kind is
    the MaintenanceState) or has an update posted by hand (kind "update"): queue a notice per
    subscriber of its public components. With `update`, the notice tells that update's words,
    and each update is told once."""
    if kind not in MAINTENANCE_KINDS:
        raise ValueError(f"Unknown maintenance notice kind {kind!r}")
    key = f"maintenance:{maintenance.pk}:{kind}"
    if update is not None and kind not in ("scheduled", "reminder"):
        key = f"maintenance:{maintenance.pk}:update:{update.code}"
    affected = maintenance.components.filter(internal=False).values_list("pk", flat=True)
    _queue(_interested(affected), MAINTENANCE_KINDS[kind], key, maintenance=maintenance,
           maintenance_update=update)


def _queue(subscriber_ids: list[int], kind: str, key: str, **about) -> None:
    if not subscriber_ids:
        return
    # ignore_conflicts: the same key twice (a repeated call) is one notice per subscriber.
    SubscriberNotice.objects.bulk_create(
        [SubscriberNotice(subscriber_id=pk, kind=kind, key=key, **about)
         for pk in subscriber_ids], ignore_conflicts=True, batch_size=500)
    transaction.on_commit(lambda: _start_key(key))


def _start_key(key: str) -> None:
    # bulk_create with ignore_conflicts returns no ids: find the rows again, after the commit.
    _start(SubscriberNotice.objects.filter(key=key, status=NoticeStatus.PENDING,
                                           claimed_at=None).values_list("pk", flat=True))


def _start(ids) -> None:
    for notice_id in ids:
        async_task(DELIVER_TASK, notice_id, task_name=f"status-notice-{notice_id}")
