"""Delivering subscriber notices: the SubscriberNotice outbox (config/outbox.py), mirroring
comms/messages/delivery.py. notices.py enqueues a task per row after its commit; the timer
source NOTICES hands on the rows nobody is delivering (retries, lost tasks).

Only published words leave: a published status-page message's subject and body, a
maintenance's name, body and times (in the page's time zone), the page's own name; never an
incident's title or notes. Each email carries its manage and unsubscribe links and RFC 8058's
List-Unsubscribe headers. A webhook gets Statuspage's subscriber-webhook JSON (`meta`, `page`,
and `incident`; maintenance as an incident with impact "maintenance", as Statuspage sends it),
POSTed through config.outbound and signed like outgoing webhooks.

A webhook is confirmed by its CONFIRM notice: the subscription becomes active when that POST
answers 2xx (the endpoint's double opt-in). A notice whose subscriber unsubscribed (or whose
incident is no longer shown) before it was sent is not sent: it is marked failed, with the
reason in last_error, so the staff page shows it.
"""

import json
import smtplib
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from comms.models import (
    MaintenanceState,
    NoticeKind,
    NoticeStatus,
    PublicIncident,
    StatusPage,
    Subscriber,
    SubscriberKind,
    SubscriberNotice,
)
from comms.status import notices, public, v2
from config import outbound
from config.outbox import Outbox, doubling
from config.timers import Source
from incidents.webhooks.outbox import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

NOTICES_OUTBOX = Outbox(
    name="subscriber notice",
    # The same kind of send as a customer message's email: the same stale-claim timeout.
    stale_after=timedelta(seconds=settings.RELAY_MESSAGE_CLAIM_STALE_SECONDS),
    retry_delays=doubling(timedelta(minutes=1), 4),  # 1, 2, 4, 8 minutes, then failed
    done_field="finished_at",
)
# A row younger than this has its own task from notices.py: the ticker leaves it alone.
GRACE = timedelta(seconds=5)
REDISPATCH = 60.0
UNSUBSCRIBED = "skipped: unsubscribed before it was sent"
NOT_CONFIRMED = "skipped: the subscription is not confirmed"
NOT_SHOWN = "skipped: no longer shown on the status page"
WEBHOOK_EVENT = "X-Relay-Event"


def due_notices(now: datetime) -> list[int]:
    # subscriber_notice_due_idx: pending rows only.
    return NOTICES_OUTBOX.due_ids(SubscriberNotice, now - GRACE)


def deliver(notice_id: int, now: datetime | None = None) -> str | None:
    """Send one due notice; its new status, or None when it was not ours to send."""
    now = now or timezone.now()
    if not NOTICES_OUTBOX.claim(SubscriberNotice, notice_id, now):
        return None
    notice = (SubscriberNotice.objects
              .select_related("subscriber", "message__incident", "maintenance",
                              "maintenance_update")
              .get(pk=notice_id))
    reason = _skip_reason(notice)
    if reason:
        _skip(notice, reason, now)
        return notice.status
    try:
        code = _send(notice)
    except (smtplib.SMTPException, OSError) as error:
        NOTICES_OUTBOX.record_failure(notice, f"SMTP: {error}", now)
        return notice.status
    except outbound.OutboundError as error:
        NOTICES_OUTBOX.record_failure(notice, str(error), now, response_code=error.status)
        return notice.status
    NOTICES_OUTBOX.record_success(notice, now, response_code=code, last_error="")
    if notice.kind == NoticeKind.CONFIRM and notice.subscriber.kind == SubscriberKind.WEBHOOK:
        notices.confirm(notice.subscriber)
    return notice.status


def _skip_reason(notice: SubscriberNotice) -> str:
    subscriber = notice.subscriber
    if subscriber.unsubscribed_at is not None:
        return UNSUBSCRIBED
    if notice.kind != NoticeKind.CONFIRM and subscriber.confirmed_at is None:
        return NOT_CONFIRMED
    if notice.message_id and (notice.message.incident.restricted
                              or not public.incident_views(_shown(notice))):
        return NOT_SHOWN
    return ""


def _skip(notice: SubscriberNotice, reason: str, now: datetime) -> None:
    """Not sent, for good: failed, with the reason (not an error to retry)."""
    values = {"status": NoticeStatus.FAILED, "claimed_at": None, "last_error": reason,
              "finished_at": now}
    SubscriberNotice.objects.filter(pk=notice.pk).update(**values)
    for name, value in values.items():
        setattr(notice, name, value)


def _shown(notice: SubscriberNotice):
    return PublicIncident.objects.filter(
        incident_id=notice.message.incident_id, incident__restricted=False
    ).select_related("incident")


def _send(notice: SubscriberNotice) -> int | None:
    if notice.subscriber.kind == SubscriberKind.WEBHOOK:
        return _post(notice)
    _email(notice).send(fail_silently=False)
    return None


# --- Links --------------------------------------------------------------------------------------

def _absolute(name: str, *args) -> str:
    return settings.SITE_URL + reverse(name, args=args)


def links(subscriber: Subscriber) -> dict:
    token = notices.manage_token(subscriber)
    return {"manage_url": _absolute("status:subscribe-manage", token),
            "unsubscribe_url": _absolute("status:unsubscribe", token)}


# --- Email --------------------------------------------------------------------------------------

def _email(notice: SubscriberNotice) -> EmailMessage:
    subscriber = notice.subscriber
    page = StatusPage.load()
    context = {"page": page, **links(subscriber)}
    headers = {}
    if notice.kind == NoticeKind.CONFIRM:
        subject, template = _confirm_email(subscriber, page, context)
    else:
        headers = {"List-Unsubscribe": f"<{context['unsubscribe_url']}>",
                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        subject, template = _update_email(notice, page, context)
    body = render_to_string(f"status/email/{template}.txt", context)
    return EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                        to=[subscriber.email], headers=headers)


def _confirm_email(subscriber, page, context) -> tuple[str, str]:
    if subscriber.confirmed_at is not None:  # subscribed again: tell, do not confirm again
        return f"Your subscription to {page.name}", "manage"
    context["confirm_url"] = _absolute("status:subscribe-confirm",
                                       notices.confirm_token(subscriber))
    context["max_days"] = notices.CONFIRM_MAX_AGE.days
    return f"Confirm your subscription to {page.name}", "confirm"


def _update_email(notice, page, context) -> tuple[str, str]:
    if notice.message_id:
        view = public.incident_views(_shown(notice))[0]
        context.update(message=notice.message, incident=view,
                       phase=notice.message.get_phase_display())
        return f"[{page.name}] {notice.message.subject}", "incident_update"
    view = public.maintenance_views([notice.maintenance])[0]
    zone = ZoneInfo(page.time_zone)
    told = notice.maintenance_update
    context.update(maintenance=view, kind=notice.get_kind_display(),
                   state=MaintenanceState(told.state if told else view.status).label,
                   body=told.body if told and notice.kind == NoticeKind.MAINTENANCE_UPDATE
                   else view.body,
                   starts=_local(view.scheduled_for, zone), ends=_local(view.scheduled_until, zone))
    return f"[{page.name}] {notice.get_kind_display()}: {view.name}", "maintenance"


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")


# --- Webhooks -----------------------------------------------------------------------------------

def _post(notice: SubscriberNotice) -> int:
    subscriber = notice.subscriber
    body = json.dumps(payload(notice), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    response = outbound.post_json(subscriber.url, body, headers={
        "User-Agent": "Relay-Status/1",
        WEBHOOK_EVENT: f"status.{notice.kind}",
        "X-Relay-Delivery": f"notice-{notice.pk}",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(subscriber.secret, timestamp, body),
    })
    return response.status


def payload(notice: SubscriberNotice) -> dict:
    """Statuspage's subscriber-webhook shape for this notice."""
    shown = public.components()
    overall = public.overall(shown, public.active_incidents(), public.active_maintenances())
    writer = v2.Writer(StatusPage.load())  # the same fields and times as the page's JSON
    data = {
        "meta": {"unsubscribe": links(notice.subscriber)["unsubscribe_url"],
                 "documentation": _absolute("status:subscribe")},
        "page": {"id": writer.page_id, "status_indicator": overall.indicator,
                 "status_description": overall.description},
    }
    if notice.kind == NoticeKind.CONFIRM:
        data["subscription"] = _subscription(notice.subscriber, writer)
    elif notice.message_id:
        data["incident"] = writer.incident(public.incident_views(_shown(notice))[0])
    else:
        data["incident"] = writer.maintenance(
            public.maintenance_views([notice.maintenance])[0])
    return data


def _subscription(subscriber: Subscriber, writer: "v2.Writer") -> dict:
    codes = list(subscriber.components.values_list("code", flat=True))
    return {"status": "confirming", "created_at": writer.time(subscriber.created_at),
            "components": codes or "all",
            "message": "Answer this POST with a 2xx status to confirm the subscription; "
                       "nothing else is sent to this endpoint until then."}


def _hand_on(notice_id: int) -> None:
    async_task(notices.DELIVER_TASK, notice_id)


NOTICES = Source(name="status-notices", due=due_notices, run=deliver, dispatch=_hand_on,
                 redispatch=REDISPATCH)
