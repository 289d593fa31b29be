"""Drafting a post-mortem from the record.

Resolving an incident creates its post-mortem (at the level its severity suggests) and marks it
due for drafting, in the transaction of the resolution itself: a worker killed before the draft
is written loses nothing, because the due mark is a row, and the timer engine's `postmortem-drafts`
source writes the facts on its next tick. Each due mark is drafted once, however many tickers
race for it (the conditional UPDATE of `draft_due_at` is the claim).

A redraft (a person's button, a resolution after a reopening) rewrites only the facts; the
sections people wrote stay as they are, and so does the summary once a person has edited it.
A published post-mortem is never redrafted: a correction is a new revision (postmortems.services).
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, NotAllowed
from config.timers import Source
from incidents.models import EntryKind, Incident, Status, TimelineEntry
from incidents.paging.notify import notify
from incidents.timeline import record
from postmortems import facts as facts_module
from postmortems import permissions
from postmortems.models import DEFAULT_LEVEL, Level, Postmortem, State

ROBOT = "Relay post-mortems"
BATCH = 50


def on_timeline(incident: Incident, entry: TimelineEntry) -> None:
    """record() listener: a resolution creates the post-mortem and marks it due for drafting."""
    if entry.kind != EntryKind.STATUS or entry.new_value != Status.RESOLVED:
        return
    postmortem = Postmortem.objects.filter(incident_id=incident.pk).first()
    if postmortem is None:
        postmortem = Postmortem.objects.create(
            incident_id=incident.pk, level=DEFAULT_LEVEL[incident.severity])
    if postmortem.level != Level.NONE and postmortem.state != State.PUBLISHED:
        Postmortem.objects.filter(pk=postmortem.pk).update(draft_due_at=entry.created_at)


def start(incident: Incident, *, by) -> Postmortem:
    """A person starts the post-mortem before (or without) a resolution; the facts are drafted
    at once. Starting one that exists returns it."""
    if not permissions.can_write(by):
        raise NotAllowed("Your role cannot write post-mortems.")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        postmortem, created = Postmortem.objects.get_or_create(
            incident=incident, defaults={"level": DEFAULT_LEVEL[incident.severity]})
        if postmortem.level == Level.NONE:
            postmortem.level = Level.SUMMARY
            postmortem.save(update_fields=["level", "updated_at"])
        if created or not postmortem.facts:
            _draft(incident, postmortem, by=by, now=timezone.now())
    return postmortem


def redraft(postmortem: Postmortem, *, by) -> Postmortem:
    """Rewrite the facts from the record now (after a milestone correction, say)."""
    if not permissions.can_write(by):
        raise NotAllowed("Your role cannot write post-mortems.")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=postmortem.incident_id)
        postmortem = Postmortem.objects.select_for_update().get(pk=postmortem.pk)
        if postmortem.state == State.PUBLISHED:
            raise Conflict("A published post-mortem is not redrafted: start a correction first.")
        _draft(incident, postmortem, by=by, now=timezone.now())
    return postmortem


def due_drafts(now: datetime) -> list[int]:
    # postmortem_draft_due_idx: due rows only.
    return list(Postmortem.objects.filter(draft_due_at__lte=now).order_by("draft_due_at")
                .values_list("pk", flat=True)[:BATCH])


def draft_due(postmortem_id: int, now: datetime) -> Postmortem | None:
    """Write the facts for the post-mortem's due mark; None when another ticker did already."""
    row = Postmortem.objects.filter(pk=postmortem_id).values("incident_id", "draft_due_at").first()
    if not row or row["draft_due_at"] is None or row["draft_due_at"] > now:
        return None
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=row["incident_id"])
        claimed = Postmortem.objects.filter(pk=postmortem_id,
                                            draft_due_at=row["draft_due_at"]).update(
            draft_due_at=None)
        if not claimed:
            return None
        postmortem = Postmortem.objects.get(pk=postmortem_id)
        if postmortem.level == Level.NONE or postmortem.state == State.PUBLISHED:
            return None
        first = not postmortem.facts
        _draft(incident, postmortem, by=None, now=now)
        people = [u for u in (incident.commander,) if u is not None]
        if first and people:
            notify(incident, people, reason=f"postmortem-draft:{postmortem.pk}",
                   subject=f"[Relay] {incident.reference}: post-mortem draft ready",
                   text=f"Relay drafted the post-mortem of {incident.reference} "
                        f"({incident.title}) from the record. Refine it and ask for review.",
                   why="post-mortem draft ready")
    return postmortem


def _draft(incident: Incident, postmortem: Postmortem, *, by, now: datetime) -> None:
    """Write the facts (and Relay's summary while nobody has edited it) and say so on the
    timeline. The caller holds the incident's row lock, so the facts match one state of the
    record."""
    first = not postmortem.facts
    facts = facts_module.gather(incident, now=now)
    postmortem.facts = facts
    postmortem.facts_seq = facts["record"]["through_seq"]
    postmortem.facts_at = now
    postmortem.draft_due_at = None
    fields = ["facts", "facts_seq", "facts_at", "draft_due_at", "updated_at"]
    if not postmortem.summary_edited:
        postmortem.summary = facts_module.summary(facts)
        fields.append("summary")
    postmortem.save(update_fields=fields)
    verb = "drafted" if first else "redrafted"
    note = f"{verb.capitalize()} the post-mortem's facts from timeline entries " \
           f"1–{postmortem.facts_seq}" + ("." if first else "; the sections people wrote are kept.")
    record(incident, EntryKind.POSTMORTEM, by, actor_label="" if by else ROBOT, new=verb,
           note=note, data={"action": verb, "postmortem": postmortem.pk,
                            "through_seq": postmortem.facts_seq})


def _run(postmortem_id: int, now: datetime) -> None:
    draft_due(postmortem_id, now)


DRAFTS = Source(name="postmortem-drafts", due=due_drafts, run=_run)
