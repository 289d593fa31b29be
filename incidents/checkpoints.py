"""Signed checkpoints of every chain's head, kept outside the database.

Each checkpoint is one JSON file, written once (never overwritten) into RELAY_CHECKPOINT_DIR and
optionally POSTed to a witness (RELAY_CHECKPOINT_WITNESS_URL). It names the previous checkpoint's
digest, so the files form a chain of their own, and it is signed with the key of
incidents/signing.py, so the database's owner can neither forge nor quietly edit one.

A checkpoint holds the head (seq, hash) of every incident timeline that changed since the last
one, and of the audit log; every FULL_EVERY-th holds every head, so verification reads back only
to the newest full checkpoint. Before a head is written its chain is verified from the previous
head, so a checkpoint never vouches for a tampered chain.

Verification (verify_record) then compares each chain with its latest checkpointed head: a
consistent rewrite, a truncated tail, an erased timeline or a chain gone missing all disagree with
it; entries after it are reported as not yet covered.
"""

import fcntl
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from config import outbound
from incidents import audit, signing
from incidents.models import AuditEntry, AuditHead, Incident, TimelineEntry
from incidents.timeline import GENESIS_HASH, verify_chain

log = logging.getLogger(__name__)

VERSION = 1
FULL_EVERY = 100
NAME_FORMAT = "checkpoint-{:010d}.json"


class CheckpointError(Exception):
    """The checkpoint files themselves do not hold (a bad signature, a broken link, a gap)."""


@dataclass
class Checkpoint:
    number: int
    created_at: str
    previous: str
    full: bool
    timelines: dict[int, tuple[int, str]]
    audit: tuple[int, str]
    key_id: str
    digest: str = ""
    path: Path | None = None


@dataclass
class Coverage:
    """What the checkpoints vouch for, merged newest first."""
    latest: Checkpoint | None = None
    timelines: dict[int, tuple[int, str, int]] = field(default_factory=dict)  # id → seq, hash, n
    audit: tuple[int, str, int] | None = None
    read: int = 0
    created: dict[int, str] = field(default_factory=dict)  # number → created_at, of those read


def directory() -> Path:
    return Path(settings.RELAY_CHECKPOINT_DIR)


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _parse(path: Path) -> Checkpoint:
    raw = path.read_bytes()
    try:
        document = json.loads(raw)
        body, signature = document["checkpoint"], document["signature"]
        if body.get("version") != VERSION:
            raise CheckpointError(f"{path.name}: unknown version {body.get('version')!r}")
        if not signing.verify(_canonical(body), signature):
            raise CheckpointError(f"{path.name}: its signature does not hold (it was altered, "
                                  "or signed by a key Relay does not trust)")
        return Checkpoint(
            number=int(body["number"]), created_at=body["created_at"],
            previous=body["previous"], full=bool(body["full"]),
            timelines={int(k): (int(v[0]), str(v[1])) for k, v in body["timelines"].items()},
            audit=(int(body["audit"][0]), str(body["audit"][1])), key_id=body["key_id"],
            digest=hashlib.sha256(raw).hexdigest(), path=path)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise CheckpointError(f"{path.name}: not a Relay checkpoint ({error})") from None


def _files() -> list[Path]:
    folder = directory()
    if not folder.is_dir():
        return []
    return sorted(folder.glob("checkpoint-*.json"))


def coverage() -> Coverage:
    """Read checkpoints newest first, back to the newest full one; check their signatures and
    that each names the one before it."""
    files = _files()
    result = Coverage()
    newer: Checkpoint | None = None
    for path in reversed(files):
        point = _parse(path)
        result.read += 1
        result.created[point.number] = point.created_at
        if newer is None:
            result.latest = point
        elif newer.number != point.number + 1 or newer.previous != point.digest:
            raise CheckpointError(
                f"checkpoint {newer.number} does not follow checkpoint {point.number} "
                "(one is missing, replaced or out of order)")
        for incident_id, (seq, hash_) in point.timelines.items():
            result.timelines.setdefault(incident_id, (seq, hash_, point.number))
        if result.audit is None:
            result.audit = (*point.audit, point.number)
        if point.full:
            break
        newer = point
    else:
        if files and newer is not None and newer.number != 1:
            raise CheckpointError(f"the oldest checkpoint kept is {newer.number}, not 1, and no "
                                  "full checkpoint follows it")
    return result


@dataclass
class Written:
    checkpoint: Checkpoint | None
    refused: list[str]  # chains whose head was not advanced, and why
    witness_error: str = ""


def write(*, adopt_unsigned: bool = False) -> Written:
    """Write the next checkpoint (or none, when nothing changed since the last). Chains that do
    not verify from their last checkpointed head keep that head, and are named in `refused`."""
    folder = directory()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one writer at a time on this machine
        return _write_locked(folder, adopt_unsigned)


def _write_locked(folder: Path, adopt_unsigned: bool) -> Written:
    known = coverage()
    previous = known.latest
    number = previous.number + 1 if previous else 1
    full = number % FULL_EVERY == 1 or previous is None
    refused: list[str] = []
    timelines: dict[int, tuple[int, str]] = {}
    counters = Incident.objects.values_list("pk", "timeline_seq").order_by("pk")
    for incident_id, counter in counters.iterator(chunk_size=5000):
        start_seq, start_hash, _ = known.timelines.get(incident_id, (0, GENESIS_HASH, 0))
        if counter == start_seq and not full:
            continue
        if counter == start_seq:
            timelines[incident_id] = (start_seq, start_hash)
            continue
        report = verify_chain(incident_id, start_seq=start_seq, start_hash=start_hash)
        problem = report.reason if not report.intact else ""
        if not problem and report.unsigned_through > start_seq and not adopt_unsigned:
            problem = (f"entry #{report.unsigned_through} is not signed (written before signing "
                       "began, or forged); checkpoint with --adopt-unsigned once after upgrading")
        if problem:
            refused.append(f"INC-{incident_id}: {problem}")
            if full and start_seq:  # a full checkpoint carries the last head it can vouch for
                timelines[incident_id] = (start_seq, start_hash)
            continue
        timelines[incident_id] = (report.head_seq, report.head_hash)
    audit_head, audit_problem = _audit_head(known, adopt_unsigned)
    if audit_problem:
        refused.append(f"audit log: {audit_problem}")
    if previous and not timelines and not full and tuple(previous.audit) == audit_head:
        return Written(None, refused)
    body = {
        "version": VERSION, "number": number,
        "created_at": timezone.now().isoformat(timespec="microseconds"),
        "previous": previous.digest if previous else "", "full": full,
        "timelines": {str(k): list(v) for k, v in sorted(timelines.items())},
        "audit": list(audit_head), "key_id": signing.key_id(),
        "public_key": signing.public_key_b64(),
    }
    document = {"checkpoint": body, "signature": signing.sign(_canonical(body))}
    raw = json.dumps(document, sort_keys=True, indent=1).encode() + b"\n"
    path = folder / NAME_FORMAT.format(number)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    point = _parse(path)
    return Written(point, refused, _send_to_witness(raw))


def _audit_head(known: Coverage, adopt_unsigned: bool) -> tuple[tuple[int, str], str]:
    start_seq, start_hash = (known.audit[0], known.audit[1]) if known.audit else (0, GENESIS_HASH)
    report = audit.verify_log(start_seq=start_seq, start_hash=start_hash)
    if not report.intact:
        return (start_seq, start_hash), report.reason
    if report.unsigned_through > start_seq and not adopt_unsigned:
        return (start_seq, start_hash), f"entry #{report.unsigned_through} is not signed"
    return (report.head_seq, report.head_hash), ""


def _send_to_witness(raw: bytes) -> str:
    url = settings.RELAY_CHECKPOINT_WITNESS_URL
    if not url:
        return ""
    try:
        outbound.post_json(url, raw, headers={"X-Relay-Checkpoint": signing.key_id()})
    except outbound.OutboundError as error:
        log.warning("checkpoint witness %s refused or unreachable: %s", url, error)
        return str(error)
    return ""


def scheduled() -> None:
    """The recurring task (config/schedules.py)."""
    written = write()
    for problem in written.refused:
        log.error("checkpoint left a chain at its last verified head: %s", problem)


# --- verification against the checkpoints ---------------------------------------------------

@dataclass
class ChainVerdict:
    name: str                      # "INC-42" or "audit log"
    incident_id: int | None
    entries: int
    problems: list[str]
    checkpointed_seq: int = 0
    checkpoint_number: int = 0
    head_seq: int = 0
    uncovered: tuple[int, int] | None = None  # entries after the last checkpoint (first, last)

    @property
    def intact(self) -> bool:
        return not self.problems


def judge(name: str, report, declared: int, covered: tuple[int, str, int] | None,
          incident_id: int | None = None) -> ChainVerdict:
    """Weigh one chain's walk (from genesis) against its latest checkpointed head."""
    verdict = ChainVerdict(name, incident_id, report.entries, [], head_seq=declared)
    if not report.intact:
        verdict.problems.append(f"entry #{report.first_bad_seq}: {report.reason}")
    seq, hash_, number = covered if covered else (0, GENESIS_HASH, 0)
    verdict.checkpointed_seq, verdict.checkpoint_number = seq, number
    if covered:
        if declared < seq:
            what = "was erased" if declared == 0 else f"ends at #{declared}"
            verdict.problems.append(
                f"checkpoint {number} vouches for {seq} entries but the chain {what} "
                f"(entries after #{declared} were removed)")
        elif report.intact and seq and _hash_at(report, seq, incident_id) != hash_:
            verdict.problems.append(
                f"entry #{seq} is not the one checkpoint {number} vouches for: the history "
                "up to it was rewritten")
    if report.unsigned_through > seq:
        verdict.problems.append(
            f"entry #{report.unsigned_through} is not signed and no checkpoint covers it "
            "(added outside Relay)")
    if declared > seq:
        verdict.uncovered = (seq + 1, declared)
    return verdict


def _hash_at(report, seq: int, incident_id: int | None) -> str:
    if report.head_seq == seq:
        return report.head_hash
    if incident_id is None:
        return AuditEntry.objects.filter(seq=seq).values_list("hash", flat=True).first() or ""
    return (TimelineEntry.objects.filter(incident_id=incident_id, seq=seq)
            .values_list("hash", flat=True).first() or "")


def verify_incident(incident: Incident, known: Coverage | None = None) -> ChainVerdict:
    from incidents import replay

    known = known if known is not None else coverage()
    report = verify_chain(incident.pk)
    verdict = judge(incident.reference, report, incident.timeline_seq,
                    known.timelines.get(incident.pk), incident.pk)
    entries = TimelineEntry.objects.filter(incident_id=incident.pk).order_by("seq")
    verdict.problems.extend(f"the incident row disagrees with its timeline: {sentence}"
                            for sentence in replay.disagreements(incident, entries.iterator()))
    return verdict


def verify_audit(known: Coverage | None = None) -> ChainVerdict:
    known = known if known is not None else coverage()
    report = audit.verify_log()
    declared = AuditHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    return judge("audit log", report, declared, known.audit)


def missing_incidents(known: Coverage) -> list[ChainVerdict]:
    """Checkpointed incidents whose row is gone altogether."""
    ids = set(known.timelines)
    present = set(Incident.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return [ChainVerdict(f"INC-{pk}", pk, 0, [
        f"checkpoint {known.timelines[pk][2]} vouches for {known.timelines[pk][0]} entries but "
        "the incident is gone"]) for pk in sorted(ids - present)]


__all__ = ["Checkpoint", "CheckpointError", "ChainVerdict", "Coverage", "coverage", "judge",
           "missing_incidents", "verify_audit", "verify_incident", "write"]
