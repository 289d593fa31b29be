"""The life of a customer message: drafted (by Responders or Communications, or prepared by Relay
when an update comes due), edited under optimistic locking, submitted, approved by a second
person of Communications where a tier asks for it, published or discarded; superseded by the next
publication. Each step locks the incident, checks, changes and writes the timeline in one
transaction; the portal, the API and the timer all call these functions.

Two open drafts of one incident are a conflict: both are flagged in the log, and neither can be
published while the other is open (someone decides which one goes and discards the other).
Discarding the other automatically could throw away an edit a colleague is making right now."""

import hashlib
import json
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from comms.messages import cadence
from comms.messages import permissions as perms
from comms.models import (
    CustomerContact,
    CustomerMessage,
    MessageDelivery,
    MessageState,
    Phase,
    TierPolicy,
)
from config.errors import Conflict, Invalid, NotAllowed
from config.strictjson import unstorable_reason
from incidents.models import CLOSED_STATUSES, EntryKind, Incident, Status
from incidents.timeline import record

ROBOT = "Relay customer updates"
OPEN_STATES = (MessageState.DRAFT, MessageState.PENDING)
PHASE_ORDER = [Phase.INVESTIGATING, Phase.IDENTIFIED, Phase.MONITORING, Phase.RESOLVED]
# The phase a customer hears about for each incident status.
STATUS_PHASE = {
    Status.TRIGGERED: Phase.INVESTIGATING,
    Status.ACKNOWLEDGED: Phase.INVESTIGATING,
    Status.INVESTIGATING: Phase.INVESTIGATING,
    Status.IDENTIFIED: Phase.IDENTIFIED,
    Status.MONITORING: Phase.MONITORING,
    Status.RESOLVED: Phase.RESOLVED,
    Status.DECLINED: Phase.RESOLVED,
    Status.MERGED: Phase.RESOLVED,
}
SUBJECT_MAX = 200
BODY_MAX = 10000


class StaleEdit(Conflict):
    """An edit made from an older version: refused, with the version that won."""

    def __init__(self, current: CustomerMessage):
        super().__init__(f"Someone else changed this message (now version {current.version}) while "
                         "you were editing it; your text was not saved. Their text is shown: "
                         "apply your changes to it and save again.", "version")
        self.current = current


def phase_of(incident: Incident) -> str:
    return STATUS_PHASE[incident.status]


# --- Drafting and editing -----------------------------------------------------------------------

def draft(incident: Incident, *, by, phase: str, subject: str, body: str,
          to_customers: bool = True, to_status_page: bool = False,
          prepared: bool = False) -> CustomerMessage:
    """A new draft. `by` None is Relay itself (a prepared draft)."""
    if by is not None and not perms.can_draft(by):
        raise NotAllowed("Your role cannot draft customer messages.")
    fields = _clean(phase=phase, subject=subject, body=body, to_customers=to_customers,
                    to_status_page=to_status_page)
    with transaction.atomic():
        incident = _lock(incident)
        if incident.status == Status.MERGED:
            raise Conflict(f"{incident.reference} was merged; write to customers from the "
                           "incident it was merged into.")
        message = CustomerMessage.objects.create(incident=incident, author=by, prepared=prepared,
                                                 **fields)
        others = _open_others(message)
        note = f"Drafted customer message #{message.pk} ({message.get_phase_display()}): " \
               f"{message.subject}"
        if others:
            note += f" — it conflicts with open draft #{others[0].pk}; only one can be published."
        _record(incident, message, "drafted", by, note)
    return message


def edit(message: CustomerMessage, *, by, version: int, **changes) -> CustomerMessage:
    """Save a person's edit made from `version`. A pending message goes back to draft: an
    approval is for the exact words approved."""
    with transaction.atomic():
        _lock(message.incident)
        message = _lock_message(message)
        if not perms.can_edit(by, message):
            raise NotAllowed("You may edit only drafts you proposed.")
        _require_open(message)
        if message.version != version:
            raise StaleEdit(message)
        fields = _clean(**{name: changes.get(name, getattr(message, name)) for name in
                           ("phase", "subject", "body", "to_customers", "to_status_page")})
        for name, value in fields.items():
            setattr(message, name, value)
        was_pending = message.state == MessageState.PENDING
        message.state = MessageState.DRAFT
        message.submitted_by, message.submitted_at = None, None
        message.prepared = False  # the words are a person's now
        message.version += 1
        message.save()
        note = f"Edited customer message #{message.pk} (version {message.version})"
        if was_pending:
            note += "; it needs submitting again"
        _record(message.incident, message, "edited", by, note + ".")
    return message


def refresh_prepared(message: CustomerMessage, *, phase: str, subject: str,
                     body: str) -> CustomerMessage:
    """Relay rewrites its own unedited prepared draft when the next update comes due. Runs
    inside the caller's transaction, with the incident locked."""
    message = _lock_message(message)
    message.phase, message.subject, message.body = phase, subject[:SUBJECT_MAX], body[:BODY_MAX]
    message.version += 1
    message.save()
    return message


# --- Submitting, approving, publishing, discarding ------------------------------------------------

def submit(message: CustomerMessage, *, by) -> CustomerMessage:
    """Mark a draft ready: Communications publish it, or approve it where a tier requires."""
    with transaction.atomic():
        incident = _lock(message.incident)
        message = _lock_message(message)
        if not perms.can_edit(by, message):
            raise NotAllowed("You may submit only drafts you proposed.")
        if message.state != MessageState.DRAFT:
            raise Conflict(f"Message #{message.pk} is {message.get_state_display().lower()}; "
                           "only a draft can be submitted.")
        tiers = approval_tiers(incident)
        message.state = MessageState.PENDING
        message.requires_approval = bool(tiers)
        message.submitted_by, message.submitted_at = by, timezone.now()
        message.save()
        note = f"Submitted customer message #{message.pk}"
        note += (f" for approval (required for {', '.join(tiers)})." if tiers
                 else " for publication.")
        _record(incident, message, "submitted", by, note)
    return message


def approve(message: CustomerMessage, *, by) -> CustomerMessage:
    """A second person of Communications approves a submitted message; it is published at once."""
    if not perms.can_publish(by):
        raise NotAllowed("Only Communications can approve customer messages.")
    with transaction.atomic():
        incident = _lock(message.incident)
        message = _lock_message(message)
        if message.state != MessageState.PENDING:
            raise Conflict(f"Message #{message.pk} is {message.get_state_display().lower()}; "
                           "only a submitted message can be approved.")
        if by.pk in (message.author_id, message.submitted_by_id):
            raise NotAllowed("You wrote or submitted this message; another person of "
                             "Communications must approve it.")
        now = timezone.now()
        _check_publishable(incident, message)
        message.approved_by, message.approved_at = by, now
        _record(incident, message, "approved", by,
                f"Approved customer message #{message.pk}.")
        _publish(incident, message, by, now)
    return message


def publish(message: CustomerMessage, *, by) -> CustomerMessage:
    """Publish directly, where no affected tier requires a second person's approval."""
    if not perms.can_publish(by):
        raise NotAllowed("Only Communications can publish customer messages.")
    with transaction.atomic():
        incident = _lock(message.incident)
        message = _lock_message(message)
        _require_open(message)
        tiers = approval_tiers(incident)
        if tiers:
            raise Conflict(f"Messages to {', '.join(tiers)} customers need a second person of "
                           "Communications to approve them: submit it for approval.", "state")
        now = timezone.now()
        _check_publishable(incident, message)
        _publish(incident, message, by, now)
    return message


def discard(message: CustomerMessage, *, by) -> CustomerMessage:
    with transaction.atomic():
        incident = _lock(message.incident)
        message = _lock_message(message)
        if not perms.can_edit(by, message):
            raise NotAllowed("You may discard only drafts you proposed.")
        _require_open(message)
        message.state = MessageState.DISCARDED
        message.discarded_by, message.discarded_at = by, timezone.now()
        message.save()
        _record(incident, message, "discarded", by, f"Discarded customer message #{message.pk}.")
    return message


# --- Rules ------------------------------------------------------------------------------------

def approval_tiers(incident: Incident) -> list[str]:
    """Names of the tiers (of affected customers, or named on the incident) whose policy asks
    for a second person's approval; empty when Communications may publish directly."""
    tier_ids = Q(tier__customers__incidents=incident) | Q(tier__incidents=incident)
    return sorted(set(TierPolicy.objects.filter(tier_ids, message_approval=True)
                      .values_list("tier__name", flat=True)))


def recipients(incident: Incident) -> list[CustomerContact]:
    """Contacts of the affected customers who receive updates, one per address."""
    contacts = (CustomerContact.objects.filter(customer__incidents=incident,
                                               receives_updates=True)
                .select_related("customer").order_by("customer__name", "email", "id"))
    seen, unique = set(), []
    for contact in contacts:
        if contact.email.lower() not in seen:
            seen.add(contact.email.lower())
            unique.append(contact)
    return unique


def digest(message: CustomerMessage) -> str:
    def norm(text):
        return " ".join(text.split()).casefold()
    content = [norm(message.subject), norm(message.body), message.to_customers,
               message.to_status_page]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def _check_publishable(incident: Incident, message: CustomerMessage) -> None:
    _check_phase(incident, message)
    others = _open_others(message)
    if others:
        other = others[0]
        raise Conflict(f"Draft #{other.pk} ({other.subject}) is also open: two updates must not "
                       "both go out. Discard one of them first.", "state")
    if message.to_customers and not recipients(incident):
        raise Invalid("No affected customer has a contact who receives updates: add the "
                      "customers (and their contacts), or do not email customers.",
                      "to_customers")
    earlier = CustomerMessage.objects.filter(incident=incident, state=MessageState.PUBLISHED,
                                             digest=digest(message)).first()
    if earlier:
        raise Conflict(f"The same text already went to the same audience as message "
                       f"#{earlier.pk} at {earlier.published_at:%H:%M} UTC; it is not sent "
                       "twice.", "body")


def _check_phase(incident: Incident, message: CustomerMessage) -> None:
    if message.phase == Phase.RESOLVED and incident.status not in CLOSED_STATUSES:
        raise Conflict(f"This message says resolved, but {incident.reference} is still "
                       f"{incident.get_status_display().lower()}.", "phase")
    last = (CustomerMessage.objects.filter(incident=incident, state=MessageState.PUBLISHED)
            .order_by("-published_at").values_list("phase", flat=True).first())
    rank = PHASE_ORDER.index
    # Going back is right only when the incident itself went back (a fix did not hold).
    if last and rank(message.phase) < rank(last) and message.phase != phase_of(incident):
        raise Conflict(f"Customers were last told “{Phase(last).label}”; this message goes back "
                       f"to “{message.get_phase_display()}” while {incident.reference} is "
                       f"{incident.get_status_display().lower()}.", "phase")


def _publish(incident: Incident, message: CustomerMessage, by, now: datetime) -> None:
    previous = (CustomerMessage.objects.filter(incident=incident, state=MessageState.PUBLISHED,
                                               superseded_by=None)
                .exclude(pk=message.pk).order_by("-published_at").first())
    message.state = MessageState.PUBLISHED
    message.published_by, message.published_at = by, now
    message.digest = digest(message)
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        raise Conflict("The same text already went to the same audience; it is not sent "
                       "twice.", "body") from None
    if previous:
        CustomerMessage.objects.filter(pk=previous.pk).update(superseded_by=message)
    rows = _queue_deliveries(message, now) if message.to_customers else []
    audience = [name for name, on in (("customers", message.to_customers),
                                      ("status page", message.to_status_page)) if on]
    note = f"Published customer message #{message.pk} ({message.get_phase_display()}) to " \
           f"{' and '.join(audience)}: {message.subject}"
    if rows:
        note += f" ({len(rows)} recipient{'s' if len(rows) != 1 else ''})"
    entry = record(incident, EntryKind.MESSAGE_PUBLISHED, by, actor_label=_label(by),
                   new=message.phase, note=note + ".",
                   data={"message": message.pk, "phase": message.phase, "audience": audience,
                         "recipients": len(rows),
                         "supersedes": previous.pk if previous else None})
    # The entry's time is the publication's time: SLA clocks stop on it, so the two agree.
    message.published_at = entry.created_at
    CustomerMessage.objects.filter(pk=message.pk).update(published_at=entry.created_at)
    cadence.after_publication(incident, entry.created_at)


def _queue_deliveries(message: CustomerMessage, now: datetime) -> list[MessageDelivery]:
    rows = [MessageDelivery(message=message, customer=c.customer, contact=c, name=c.name,
                            email=c.email, due_at=now) for c in recipients(message.incident)]
    MessageDelivery.objects.bulk_create(rows)
    for pk in MessageDelivery.objects.filter(message=message).values_list("pk", flat=True):
        transaction.on_commit(
            lambda pk=pk: async_task("comms.messages.tasks.deliver_message", pk))
    return rows


# --- Helpers ------------------------------------------------------------------------------------

def _clean(*, phase, subject, body, to_customers, to_status_page) -> dict:
    errors = {}
    if phase not in Phase.values:
        errors["phase"] = "Choose one of investigating, identified, monitoring or resolved."
    subject, body = (str(subject or "").strip(), str(body or "").strip())
    for name, text, limit in (("subject", subject, SUBJECT_MAX), ("body", body, BODY_MAX)):
        if not text:
            errors[name] = f"The {name} cannot be empty."
        elif len(text) > limit:
            errors[name] = f"At most {limit} characters (this has {len(text)})."
        elif unstorable_reason(text):
            errors[name] = unstorable_reason(text)
    if "\n" in subject or "\r" in subject:
        errors["subject"] = "The subject is one line."
    if not (to_customers or to_status_page):
        errors["to_customers"] = "Choose at least one audience: customers or the status page."
    if errors:
        raise ValidationError(errors)
    return {"phase": phase, "subject": subject, "body": body,
            "to_customers": bool(to_customers), "to_status_page": bool(to_status_page)}


def _lock(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _lock_message(message: CustomerMessage) -> CustomerMessage:
    return CustomerMessage.objects.select_for_update().get(pk=message.pk)


def _require_open(message: CustomerMessage) -> None:
    if message.state not in OPEN_STATES:
        raise Conflict(f"Message #{message.pk} is already "
                       f"{message.get_state_display().lower()}.", "state")


def _open_others(message: CustomerMessage) -> list[CustomerMessage]:
    return list(CustomerMessage.objects.filter(incident_id=message.incident_id,
                                               state__in=OPEN_STATES)
                .exclude(pk=message.pk).order_by("id"))


def _label(user) -> str:
    return "" if user else ROBOT


def _record(incident, message, action, by, note) -> None:
    record(incident, EntryKind.MESSAGE, by, actor_label=_label(by), new=message.state,
           note=note, data={"action": action, "message": message.pk, "phase": message.phase})
