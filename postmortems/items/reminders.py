"""Reminders of action items to their owners: one some days before the due date and one on it,
both at 09:00 in the working hours' time zone (postmortems.items.services keeps
`next_reminder_at` on the next one). A notice goes through the page outbox to the owner's contact
methods. Each due time reminds once, however many tickers race for it: the conditional UPDATE of
`next_reminder_at` from the value read is the claim.

An owner who can no longer see the incident (it became restricted) is not reminded: a notice
of a restricted incident would grant them access."""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F

from config.timers import Source
from incidents.models import Incident
from incidents.paging.notify import notify
from incidents.permissions import visible_incidents
from postmortems.items import services
from postmortems.models import ActionItem

BATCH = 200
BEFORE, DUE = "before", "due"


def due_items(now: datetime) -> list[int]:
    # action_item_reminder_idx: rows with a reminder to come only.
    return list(ActionItem.objects.filter(next_reminder_at__lte=now)
                .order_by("next_reminder_at").values_list("pk", flat=True)[:BATCH])


def remind(item_id: int, now: datetime) -> str | None:
    """Send the item's due reminder; its stage ("before" or "due"), or None when another ticker
    sent it already (or nothing is due)."""
    row = ActionItem.objects.filter(pk=item_id).values("incident_id", "next_reminder_at").first()
    if not row or row["next_reminder_at"] is None or row["next_reminder_at"] > now:
        return None
    at = row["next_reminder_at"]
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=row["incident_id"])
        item = ActionItem.objects.select_related("owner").get(pk=item_id)
        on_the_day = services.reminder_times(item.due_on)[1]
        # A reminder sent late, on or after the due day's time, is the due day's: one notice.
        stage = DUE if at >= on_the_day or now >= on_the_day else BEFORE
        following = on_the_day if stage == BEFORE else None
        claimed = (ActionItem.objects.filter(pk=item_id, next_reminder_at=at)
                   .update(next_reminder_at=following,
                           reminders_sent=F("reminders_sent") + 1))
        if not claimed:
            return None
        if _reachable(item, incident):
            _notify(incident, item, stage)
    return stage


def _reachable(item: ActionItem, incident: Incident) -> bool:
    owner = item.owner
    return (item.is_open and owner is not None and owner.is_active
            and visible_incidents(owner).filter(pk=incident.pk).exists())


def _notify(incident: Incident, item: ActionItem, stage: str) -> None:
    when = "today" if stage == DUE else f"on {item.due_on:%A %d %B %Y}"
    why = "action item due today" if stage == DUE else \
        f"action item due in {settings.RELAY_ACTION_ITEM_REMIND_DAYS} days"
    notify(incident, [item.owner], reason=f"action-item:{item.pk}:{item.due_on}:{stage}",
           subject=f"[Relay] Action item due {when}: {item.title}",
           text=f"Your action item “{item.title}” from the post-mortem of {incident.reference} "
                f"({incident.title}) is due {when}. Mark it done, or accept it with a reason: "
                f"{settings.SITE_URL}/action-items/",
           why=why)


def _run(item_id: int, now: datetime) -> None:
    remind(item_id, now)


REMINDERS = Source(name="action-item-reminders", due=due_items, run=_run)
