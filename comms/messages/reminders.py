"""When a customer update comes due: prepare a draft from the phase's template (or refresh
Relay's own unedited one; never a second open draft) and remind the communications lead, on the
timeline and through their contact methods. Each due time reminds once, however many tickers or
workers race for it (the conditional UPDATE of `reminded_for` is the claim)."""

from datetime import datetime

from django.db import transaction
from django.db.models import F

from comms.messages import drafts, services
from comms.models import CustomerMessage, UpdateCadence
from config.timers import Source
from incidents.models import EntryKind, Incident
from incidents.paging.notify import notify
from incidents.timeline import record

BATCH = 200


def due_cadences(now: datetime) -> list[int]:
    # update_cadence_due_idx: due rows only.
    return list(UpdateCadence.objects.filter(due_at__lte=now)
                .exclude(reminded_for=F("due_at")).order_by("due_at")
                .values_list("pk", flat=True)[:BATCH])


def remind(cadence_id: int, now: datetime) -> CustomerMessage | None:
    """Prepare the draft and remind the lead for the cadence's due time; None when it was
    reminded already (or is not due)."""
    row = UpdateCadence.objects.filter(pk=cadence_id).values("incident_id", "due_at").first()
    if not row or row["due_at"] is None or row["due_at"] > now:
        return None
    due = row["due_at"]
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=row["incident_id"])
        claimed = (UpdateCadence.objects.filter(pk=cadence_id, due_at=due)
                   .exclude(reminded_for=due).update(reminded_for=due))
        if not claimed:
            return None
        cadence = UpdateCadence.objects.get(pk=cadence_id)
        message, how = _prepare(incident, now, cadence)
        lead, whom = _lead(incident)
        note = f"A customer update is due (every {cadence.minutes} minutes): {how}. {whom}"
        record(incident, EntryKind.MESSAGE, actor_label=services.ROBOT, new=message.state,
               note=note, data={"action": "update_due", "message": message.pk,
                                "due": due.isoformat(), "reminded": lead.get_username()
                                if lead else ""})
        if lead:
            notify(incident, [lead], reason=f"update-due:{incident.pk}:{due.isoformat()}",
                   subject=f"[Relay] {incident.reference}: customer update due",
                   text=f"A customer update for {incident.reference} ({incident.title}) is "
                        f"due. Relay prepared draft #{message.pk}; review and publish it.",
                   why="customer update due")
    return message


def _prepare(incident: Incident, now: datetime, cadence) -> tuple[CustomerMessage, str]:
    phase = services.phase_of(incident)
    text = drafts.fill(phase, drafts.facts(incident, now, cadence))
    open_drafts = list(CustomerMessage.objects.filter(incident=incident,
                                                      state__in=services.OPEN_STATES)
                       .order_by("id"))
    if open_drafts:
        mine = next((m for m in open_drafts if m.prepared and m.author_id is None), None)
        if mine:
            services.refresh_prepared(mine, phase=phase, subject=text.subject, body=text.body)
            return mine, f"draft #{mine.pk} was refreshed"
        return open_drafts[0], f"draft #{open_drafts[0].pk} is already open"
    message = services.draft(incident, by=None, phase=phase, subject=text.subject[:200],
                             body=text.body[:10000], prepared=True)
    return message, f"draft #{message.pk} was prepared from the {phase} template"


def _lead(incident: Incident):
    if incident.comms_lead_id:
        return incident.comms_lead, f"Reminded the communications lead, " \
                                    f"{incident.comms_lead.get_username()}."
    if incident.commander_id:
        return incident.commander, f"No communications lead: reminded the commander, " \
                                   f"{incident.commander.get_username()}."
    return None, "Nobody to remind: the incident has no communications lead or commander."


def _run(cadence_id: int, now: datetime) -> None:
    remind(cadence_id, now)


UPDATES_DUE = Source(name="customer-update-due", due=due_cadences, run=_run)
