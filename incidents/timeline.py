"""The timeline: the only way to write an incident's history, and the way to verify it.

Each entry stores SHA-256(previous hash + canonical JSON of its own content), so changing, removing
or reordering any entry breaks every hash after it, and an Ed25519 signature over that hash by a
key the database never holds (incidents/signing.py), so whoever owns the database cannot recompute
a consistent chain either. The database rejects UPDATE and DELETE on the table; signed checkpoints
outside it (incidents/checkpoints.py) reveal a removed tail or an erased timeline.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from django.db import connection
from django.db.models import F, Subquery
from django.utils import timezone

from incidents import signing
from incidents.models import Incident, TimelineEntry

GENESIS_HASH = "0" * 64
CHAIN = "timeline"

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
    entry.signature = signing.sign(signing.entry_message(CHAIN, entry.hash))
    entry.save(force_insert=True)
    incident.timeline_seq = seq
    for listener in _listeners:
        listener(incident, entry)
    return entry


@dataclass(frozen=True)
class ChainReport:
    incident_id: int | None
    entries: int
    first_bad_seq: int | None
    reason: str = ""
    head_hash: str = GENESIS_HASH
    head_seq: int = 0
    # The highest entry written without a signature (before signing began): acceptable only
    # where a checkpoint covers it (incidents/checkpoints.py).
    unsigned_through: int = 0

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None


def walk_chain(entries, *, declared: int, hash_of, chain: str, incident_id: int | None = None,
               start_seq: int = 0, start_hash: str = GENESIS_HASH,
               counter: str = "incident") -> ChainReport:
    """Check entries (in seq order, after start_seq, up to `declared`): each must follow the one
    before (seq and link), match its hash, and carry a valid signature (or none at all, which the
    caller weighs against checkpoints). Names the first entry that does not hold."""
    expected_prev, expected_seq = start_hash, start_seq + 1
    count = unsigned = 0
    for entry in entries:
        count += 1
        problem = ""
        if entry.seq != expected_seq:
            problem = f"expected entry #{expected_seq} but found #{entry.seq} (an entry is missing)"
        elif entry.prev_hash != expected_prev:
            problem = "its link to the previous entry does not match"
        elif hash_of(entry) != entry.hash:
            problem = "its content does not match its hash (it was altered)"
        elif entry.signature is None:
            unsigned = entry.seq
        elif not signing.verify(signing.entry_message(chain, entry.hash), entry.signature):
            problem = ("its signature does not hold: it was written or rewritten without "
                       "Relay's signing key")
        if problem:
            return ChainReport(incident_id, count, expected_seq, problem, expected_prev,
                               expected_seq - 1, unsigned)
        expected_prev = entry.hash
        expected_seq += 1
    if expected_seq - 1 != declared:
        return ChainReport(
            incident_id, count, expected_seq,
            f"the {counter} records {declared} entries but {expected_seq - 1} remain "
            "(entries were removed)", expected_prev, expected_seq - 1, unsigned)
    return ChainReport(incident_id, count, None, "", expected_prev, expected_seq - 1, unsigned)


def verify_chain(incident_id: int, batch_size: int = 2000, *, start_seq: int = 0,
                 start_hash: str = GENESIS_HASH) -> ChainReport:
    """Walk an incident's chain in seq order (from a checkpointed head, if given); name the first
    entry whose link, content or signature does not hold.

    The incident's entry counter is read first and only entries up to it are walked, so a note
    written during the scan cannot make an intact chain look broken.
    """
    counter = Incident.objects.filter(pk=incident_id).values("timeline_seq")
    declared = counter.values_list("timeline_seq", flat=True).first() or 0
    entries = TimelineEntry.objects.filter(incident_id=incident_id, seq__gt=start_seq,
                                           seq__lte=declared)
    report = walk_chain(entries.order_by("seq").iterator(chunk_size=batch_size),
                        declared=declared, hash_of=entry_hash, chain=CHAIN,
                        incident_id=incident_id, start_seq=start_seq, start_hash=start_hash)
    if not report.intact:
        return report
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
            incident_id, report.entries, extra,
            "it lies beyond the incident's recorded entries (added outside record())",
            report.head_hash, report.head_seq, report.unsigned_through)
    return report
