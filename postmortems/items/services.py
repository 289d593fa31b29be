"""Action items: what a post-mortem commits people to, each with an owner and a due date, until it
is done or explicitly accepted as is. Every change locks the incident, checks, changes and writes
the incident's timeline in one transaction; the portal and the reminders call these functions.

A published post-mortem still takes new items: follow-ups are often found later (a repeat, an
audit), and items are the incident's follow-up, not the document's text, so adding one leaves
the published revision untouched. It does reopen the follow-up: the incident counts as closed
again only once the new item is finished too (`follow_up`).

Reminders go to the owner before and on the due date (postmortems.items.reminders sends them);
this module only keeps `next_reminder_at` right whenever the due date, owner or status changes.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from config.errors import Conflict, Invalid, NotAllowed
from config.strictjson import unstorable_reason
from incidents.models import EntryKind, Incident
from incidents.permissions import visible_incidents
from incidents.timeline import record
from postmortems import permissions as perms
from postmortems.models import (
    FINISHED_ITEM_STATUSES,
    OPEN_ITEM_STATUSES,
    ActionItem,
    ItemKind,
    ItemStatus,
    Level,
    Postmortem,
    Priority,
    State,
)

EDITABLE = ("title", "description", "owner", "due_on", "priority", "kind", "ticket_url")
REMIND_AT = time(9, 0)  # local time of both reminders, in RELAY_WORKING_HOURS_TZ
REASON_MAX = 500


class StaleItem(Conflict):
    """An edit made from an older version of the item: refused, with the version that won."""

    def __init__(self, current: ActionItem):
        super().__init__(f"Someone else changed this action item (now version {current.version}) "
                         "while you were editing it; your changes were not saved. Their version "
                         "is shown: apply your changes to it and save again.", "version")
        self.current = current


# --- Changes ------------------------------------------------------------------------------------

def create(postmortem: Postmortem, *, by, title: str, owner=None, due_on: date | None = None,
           priority: str = Priority.MEDIUM, kind: str = ItemKind.PREVENT, description: str = "",
           ticket_url: str = "") -> ActionItem:
    """A new open item; due by default after the days its incident's severity allows."""
    if not perms.can_write_items(by):
        raise NotAllowed("Your role cannot add action items.")
    with transaction.atomic():
        incident = _lock(postmortem.incident_id)
        now = timezone.now()
        item = ActionItem(postmortem_id=postmortem.pk, incident=incident, created_by=by,
                          created_at=now, title=title, owner=owner, priority=priority, kind=kind,
                          description=description, ticket_url=ticket_url,
                          due_on=due_on or default_due_on(incident, now))
        _clean(item, incident, due_changed=True, owner_changed=True)
        item.next_reminder_at = next_reminder(item, now)
        item.save()
        _record(incident, item, "item_added", by,
                f"Added action item #{item.pk}: {item.title} ({_who(item.owner)}, "
                f"due {item.due_on:%Y-%m-%d}).")
    return item


def update(item: ActionItem, *, by, version: int, **fields) -> ActionItem:
    """Save an edit made from `version` of the item. A new due date starts its reminders over."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise Invalid(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        incident = _lock(item.incident_id)
        item = ActionItem.objects.select_for_update(of=("self",)).select_related("owner").get(
            pk=item.pk)
        if not perms.can_update_item(by, item):
            raise NotAllowed("Only Responders and the item's owner can change an action item.")
        if item.version != version:
            raise StaleItem(item)
        if not item.is_open:
            raise Conflict(f"Action item #{item.pk} is {item.get_status_display().lower()}; "
                           "reopen it to change it.", "status")
        before = {name: getattr(item, name) for name in EDITABLE}
        for name, value in fields.items():
            setattr(item, name, value)
        changed = [name for name in EDITABLE if getattr(item, name) != before[name]]
        if not changed:
            return item
        _clean(item, incident, due_changed="due_on" in changed,
               owner_changed="owner" in changed)
        if "due_on" in changed:
            item.reminders_sent = 0
        if "due_on" in changed or "owner" in changed:
            item.next_reminder_at = next_reminder(item, timezone.now())
        item.version += 1
        item.save()
        _record(incident, item, "item_changed", by,
                f"Changed action item #{item.pk}: {_changes(before, item, changed)}.",
                changed=changed)
    return item


def set_status(item: ActionItem, *, by, status: str, reason: str = "") -> ActionItem:
    """Move an item between open, in progress, done and accepted (with its reason)."""
    if status not in ItemStatus.values:
        raise Invalid("Choose open, in progress, done or accepted.", "status")
    reason = str(reason or "").strip()
    if status == ItemStatus.ACCEPTED:
        _check_reason(reason)
    with transaction.atomic():
        incident = _lock(item.incident_id)
        item = ActionItem.objects.select_for_update().get(pk=item.pk)
        if not perms.can_update_item(by, item):
            raise NotAllowed("Only Responders and the item's owner can change an action item.")
        if item.status == status:
            raise Conflict(f"Action item #{item.pk} is already "
                           f"{item.get_status_display().lower()}.", "status")
        action, now = _status_action(item.status, status), timezone.now()
        item.status = status
        if status in FINISHED_ITEM_STATUSES:
            item.finished_by, item.finished_at = by, now
            item.accepted_reason = reason if status == ItemStatus.ACCEPTED else ""
            item.next_reminder_at = None
        elif action == "item_reopened":
            item.finished_by, item.finished_at, item.accepted_reason = None, None, ""
            item.next_reminder_at = next_reminder(item, now)
        item.version += 1
        item.save()
        note = f"{_STATUS_WORDS[action]} action item #{item.pk}: {item.title}"
        _record(incident, item, action, by,
                _sentence(note + (f" — {reason}" if reason else "")), status=status)
    return item


def _sentence(text: str) -> str:
    """The text with one closing full stop: a reason or title may bring its own."""
    return text if text.endswith((".", "!", "?", "…")) else text + "."


_STATUS_WORDS = {"item_done": "Finished", "item_accepted": "Accepted as is",
                 "item_reopened": "Reopened", "item_started": "Started",
                 "item_status": "Put back to open"}


def _status_action(old: str, new: str) -> str:
    if new == ItemStatus.DONE:
        return "item_done"
    if new == ItemStatus.ACCEPTED:
        return "item_accepted"
    if old in FINISHED_ITEM_STATUSES:
        return "item_reopened"
    return "item_started" if new == ItemStatus.IN_PROGRESS else "item_status"


# --- Follow-up ----------------------------------------------------------------------------------

def follow_up(postmortem: Postmortem, today: date | None = None) -> dict:
    """How far the incident's follow-up is. `complete` means the incident counts as closed: the
    post-mortem is published (or none was wanted) and every item is done or accepted."""
    counts = counts_by_postmortem([postmortem.pk], today)[postmortem.pk]
    documented = postmortem.level != Level.NONE
    published = postmortem.state == State.PUBLISHED
    return {**counts, "complete": (published or not documented) and counts["open"] == 0}


def counts_by_postmortem(ids, today: date | None = None) -> dict[int, dict]:
    """{post-mortem id: {"total", "open", "overdue"}} for these ids, in one query."""
    ids = list(ids)
    today = today or timezone.localdate()
    is_open = Q(status__in=OPEN_ITEM_STATUSES)
    rows = (ActionItem.objects.filter(postmortem_id__in=ids).order_by()
            .values("postmortem_id")
            .annotate(total=Count("pk"), open=Count("pk", filter=is_open),
                      overdue=Count("pk", filter=is_open & Q(due_on__lt=today))))
    counts = {pk: {"total": 0, "open": 0, "overdue": 0} for pk in ids}
    for row in rows:
        counts[row.pop("postmortem_id")] = row
    return counts


# --- Due dates and reminders --------------------------------------------------------------------

def default_due_on(incident: Incident, now: datetime) -> date:
    return timezone.localdate(now) + timedelta(days=settings.RELAY_ACTION_ITEM_DUE_DAYS[
        incident.severity])


def reminder_times(due_on: date) -> tuple[datetime, datetime]:
    """(the reminder before the due date, the one on it): both at 09:00 in the working hours'
    time zone, where owners are at their desks."""
    zone = ZoneInfo(settings.RELAY_WORKING_HOURS_TZ)
    before = due_on - timedelta(days=settings.RELAY_ACTION_ITEM_REMIND_DAYS)
    return (datetime.combine(before, REMIND_AT, tzinfo=zone),
            datetime.combine(due_on, REMIND_AT, tzinfo=zone))


def next_reminder(item: ActionItem, now: datetime) -> datetime | None:
    """The first reminder still ahead: an item made less than the reminder days before its due
    date gets only the due day's; an unowned or finished item none."""
    if item.owner_id is None or item.status not in OPEN_ITEM_STATUSES:
        return None
    return next((moment for moment in reminder_times(item.due_on) if moment > now), None)


# --- Helpers ------------------------------------------------------------------------------------

def _clean(item: ActionItem, incident: Incident, *, due_changed: bool,
           owner_changed: bool) -> None:
    """Strip the text, validate every field, and check the owner and a new due date."""
    for name in ("title", "description", "ticket_url"):
        setattr(item, name, str(getattr(item, name) or "").strip())
    errors = {}
    for name in ("title", "description", "ticket_url"):
        reason = unstorable_reason(getattr(item, name))
        if reason:
            errors[name] = [reason]
    if "\n" in item.title or "\r" in item.title:
        errors["title"] = ["The title is one line."]
    try:
        item.full_clean(exclude=["postmortem", "incident", "owner", "created_by", "finished_by",
                                 *errors])
    except ValidationError as error:
        errors = {**error.message_dict, **errors}
    if due_changed and isinstance(item.due_on, date) and item.due_on < timezone.localdate():
        errors.setdefault("due_on", []).append("The due date cannot be in the past.")
    if owner_changed and item.owner is not None:
        owner_error = _owner_error(item.owner, incident)
        if owner_error:
            errors["owner"] = [owner_error]
    if errors:
        raise ValidationError(errors)


def _owner_error(owner, incident: Incident) -> str | None:
    if not owner.is_active:
        return f"{owner.get_username()} is no longer active."
    if not visible_incidents(owner).filter(pk=incident.pk).exists():
        return f"{owner.get_username()} cannot see {incident.reference}: grant them access first."
    return None


def _check_reason(reason: str) -> None:
    problem = None
    if not reason:
        problem = "Say why the item is accepted without being done."
    elif len(reason) > REASON_MAX:
        problem = f"At most {REASON_MAX} characters (this has {len(reason)})."
    else:
        problem = unstorable_reason(reason)
    if problem:
        raise ValidationError({"reason": problem})


def _changes(before: dict, item: ActionItem, changed: list[str]) -> str:
    words = []
    for name in changed:
        label = ActionItem._meta.get_field(name).verbose_name
        if name == "owner":
            words.append(f"owner {_who(before['owner'])} → {_who(item.owner)}")
        elif name in ("due_on", "priority", "kind"):
            words.append(f"{label} {before[name]} → {getattr(item, name)}")
        else:
            words.append(label)
    return ", ".join(words)


def _who(user) -> str:
    return user.get_username() if user is not None else "no owner"


def _lock(incident_id: int) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident_id)


def _record(incident: Incident, item: ActionItem, action: str, by, note: str, **extra) -> None:
    record(incident, EntryKind.POSTMORTEM, by, new=action, note=note,
           data={"action": action, "item": item.pk, "postmortem": item.postmortem_id, **extra})
