"""The timeline: the only way to write an incident's history, and the way to verify it.

Each entry stores SHA-256(previous hash + canonical JSON of its own content), so changing, removing
or reordering any entry breaks every hash after it. The database rejects UPDATE and DELETE on the
table; this chain makes tampering by anyone who gets around that visible.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from django.db import connection
from django.db.models import F, Subquery
from django.utils import timezone

from incidents.models import Incident, TimelineEntry

GENESIS_HASH = "0" * 64

# Called with (incident, entry) inside record()'s transaction, for work that must commit or roll
# back with the entry (the outgoing-webhook outbox). Registered in IncidentsConfig.ready(), so
# this core module does not import the packages built on it.
_listeners: list[Callable[[Incident, TimelineEntry], None]] = []


def on_record(listener: Callable[[Incident, TimelineEntry], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def canonical_content(entry: TimelineEntry) -> str:
    content = {
        "incident": entry.incident_id,
        "seq": entry.seq,
        "kind": entry.kind,
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "created_at": entry.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "old_value": entry.old_value,
        "new_value": entry.new_value,
        "note": entry.note,
        "data": entry.data,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: TimelineEntry) -> str:
    return hashlib.sha256((entry.prev_hash + canonical_content(entry)).encode()).hexdigest()


def record(
    incident: Incident,
    kind: str,
    actor=None,
    *,
    actor_label: str = "",
    old="",
    new="",
    note: str = "",
    data: dict | None = None,
) -> TimelineEntry:
    """Append one entry. Must run inside the transaction of the change it describes."""
    if not connection.in_atomic_block:
        raise RuntimeError("record() must run inside the transaction of the change it describes")
    # The UPDATE row-locks the incident until commit, so seq and prev_hash cannot race.
    Incident.objects.filter(pk=incident.pk).update(timeline_seq=F("timeline_seq") + 1)
    seq = Incident.objects.filter(pk=incident.pk).values_list("timeline_seq", flat=True).get()
    prev_hash = (
        TimelineEntry.objects.filter(incident_id=incident.pk, seq=seq - 1)
        .values_list("hash", flat=True)
        .first()
    ) or GENESIS_HASH
    entry = TimelineEntry(
        incident_id=incident.pk,
        seq=seq,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label[:150],
        created_at=timezone.now(),
        old_value=str(old)[:500],
        new_value=str(new)[:500],
        note=note,
        data=data or {},
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(entry)
    entry.save(force_insert=True)
    incident.timeline_seq = seq
    for listener in _listeners:
        listener(incident, entry)
    return entry


@dataclass(frozen=True)
class ChainReport:
    incident_id: int
    entries: int
    first_bad_seq: int | None
    reason: str = ""
    head_hash: str = GENESIS_HASH

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None


def verify_chain(incident_id: int, batch_size: int = 2000) -> ChainReport:
    """Walk the chain in seq order; name the first entry whose link or content does not hold.

    The incident's entry counter is read first and only entries up to it are walked, so a note
    written during the scan cannot make an intact chain look broken.
    """
    counter = Incident.objects.filter(pk=incident_id).values("timeline_seq")
    declared = counter.values_list("timeline_seq", flat=True).first() or 0
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    entries = TimelineEntry.objects.filter(incident_id=incident_id, seq__lte=declared)
    for entry in entries.order_by("seq").iterator(chunk_size=batch_size):
        count += 1
        problem = ""
        if entry.seq != expected_seq:
            problem = f"expected entry #{expected_seq} but found #{entry.seq} (an entry is missing)"
        elif entry.prev_hash != expected_prev:
            problem = "its link to the previous entry does not match"
        elif entry_hash(entry) != entry.hash:
            problem = "its content does not match its hash (it was altered)"
        if problem:
            return ChainReport(incident_id, count, expected_seq, problem, expected_prev)
        expected_prev = entry.hash
        expected_seq += 1
    if count != declared:
        return ChainReport(
            incident_id,
            count,
            count + 1,
            f"the incident records {declared} entries but {count} remain (entries were removed)",
            expected_prev,
        )
    # One statement compares entries with the live counter: rows past it were not written by
    # record() (which bumps the counter in the same transaction).
    extra = (
        TimelineEntry.objects.filter(incident_id=incident_id, seq__gt=Subquery(counter))
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )
    if extra is not None:
        return ChainReport(
            incident_id,
            count,
            extra,
            "it lies beyond the incident's recorded entries (added outside record())",
            expected_prev,
        )
    return ChainReport(incident_id, count, None, "", expected_prev)
