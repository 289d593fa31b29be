"""The audit log of configuration and access changes: who, when, from where, what, before and
after. Service functions call log() in the transaction of the change (so the portal, the API, the
admin and commands all write it); secrets are never stored, only the names of those that changed.

Entries form one hash chain, each signed like timeline entries (incidents/signing.py); the
database refuses UPDATE, DELETE and TRUNCATE (incidents/history_guard.py), and checkpoints cover
the chain's head (incidents/checkpoints.py).

Where a change comes from is set once per request by AuditOriginMiddleware (portal, API or admin,
and the client's address) and by `origin()` in commands and tasks; log() reads it.
"""

import datetime
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from incidents import signing
from incidents.models import AuditEntry, AuditHead, AuditSource

GENESIS_HASH = "0" * 64
CHAIN = "audit"
SECRET = "(secret)"


@dataclass(frozen=True)
class Origin:
    source: str
    ip: str | None = None
    request: object = None  # its .user is read when an entry is written (API auth sets it late)


_origin: ContextVar[Origin | None] = ContextVar("relay_audit_origin", default=None)


@contextmanager
def origin(source: str, ip: str | None = None, request=None):
    """Everything logged inside comes from this source (e.g. AuditSource.COMMAND)."""
    token = _origin.set(Origin(source, ip, request))
    try:
        yield
    finally:
        _origin.reset(token)


def current_origin() -> Origin:
    return _origin.get() or Origin(AuditSource.SYSTEM)


def source_of(request) -> str:
    path = request.path_info
    if path.startswith("/api/"):
        return AuditSource.API
    if path.startswith("/admin/"):
        return AuditSource.ADMIN
    return AuditSource.WEB


class AuditOriginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from config.login_throttle import client_address

        with origin(source_of(request), client_address(request) or None, request):
            return self.get_response(request)


def _json_safe(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime):
        return value.astimezone(UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, datetime.date | datetime.time | decimal.Decimal | uuid.UUID):
        return str(value) if not isinstance(value, datetime.date) else value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_json_safe(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return str(value)


def snapshot(obj: models.Model, fields: Iterable[str] | None = None,
             secrets: Iterable[str] = ()) -> dict:
    """The object's field values as JSON (foreign keys as ids, many-to-many as sorted ids), with
    secret fields replaced by a marker: their values never reach the log."""
    secrets = set(secrets)
    wanted = set(fields) if fields is not None else None
    result = {}
    for field in [*obj._meta.concrete_fields, *obj._meta.many_to_many]:
        name = field.name
        if wanted is not None and name not in wanted:
            continue
        if name in secrets:
            result[name] = SECRET
            continue
        if field.many_to_many:
            value = sorted(obj.pk and getattr(obj, name).values_list("pk", flat=True) or [])
        else:
            value = field.value_from_object(obj)
        result[name] = _json_safe(value)
    return result


def changed(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Only what differs, on both sides (a creation or deletion keeps its whole side)."""
    if before is None or after is None:
        return before, after
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def canonical_content(entry: AuditEntry) -> str:
    content = {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor_id,
        "actor_label": entry.actor_label,
        "source": entry.source,
        "ip": entry.ip,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "incident": entry.incident_id,
        "before": entry.before,
        "after": entry.after,
        "secrets_changed": entry.secrets_changed,
        "note": entry.note,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256((entry.prev_hash + canonical_content(entry)).encode()).hexdigest()


def _actor(actor):
    if actor is not None:
        return actor if getattr(actor, "pk", None) else None
    request = current_origin().request
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def log(action: str, obj: models.Model | None = None, *, actor=None, actor_label: str = "",
        before: dict | None = None, after: dict | None = None, incident=None,
        secrets_changed: Iterable[str] = (), note: str = "", object_type: str = "",
        object_id: str = "", object_repr: str = "") -> AuditEntry | None:
    """Append one audit entry, in the caller's transaction when there is one.

    `before`/`after` are snapshot()s; only the fields that differ are kept. An update that
    changed nothing (and no secret) writes nothing and returns None."""
    before, after = changed(before, after)
    secrets_changed = sorted(set(secrets_changed))
    if before == {} and after == {} and not secrets_changed:
        return None
    where = current_origin()
    actor = _actor(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    with transaction.atomic():
        if not AuditHead.objects.filter(pk=1).update(seq=F("seq") + 1):
            AuditHead.objects.get_or_create(pk=1)
            AuditHead.objects.filter(pk=1).update(seq=F("seq") + 1)
        seq = AuditHead.objects.filter(pk=1).values_list("seq", flat=True).get()
        prev_hash = (AuditEntry.objects.filter(seq=seq - 1).values_list("hash", flat=True).first()
                     or GENESIS_HASH)
        entry = AuditEntry(
            seq=seq, at=timezone.now(), actor=actor,
            actor_label=(actor_label or (actor.get_username() if actor else ""))[:150],
            source=where.source, ip=where.ip, action=action[:60],
            object_type=object_type[:60], object_id=str(object_id)[:64],
            object_repr=object_repr[:200], incident=incident,
            before=_json_safe(before), after=_json_safe(after),
            secrets_changed=secrets_changed, note=note, prev_hash=prev_hash,
        )
        entry.hash = entry_hash(entry)
        entry.signature = signing.sign(signing.entry_message(CHAIN, entry.hash))
        entry.save(force_insert=True)
    return entry


def head() -> tuple[int, str]:
    """(seq, hash) of the log's newest entry as its counter says, for checkpoints."""
    seq = AuditHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    hash_ = AuditEntry.objects.filter(seq=seq).values_list("hash", flat=True).first()
    return seq, hash_ or GENESIS_HASH


def verify_log(*, start_seq: int = 0, start_hash: str = GENESIS_HASH, batch_size: int = 2000):
    """Walk the log's chain (from a checkpointed head, if given), as timeline.verify_chain does."""
    from incidents.timeline import walk_chain

    declared = AuditHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    entries = AuditEntry.objects.filter(seq__gt=start_seq, seq__lte=declared).order_by("seq")
    report = walk_chain(entries.iterator(chunk_size=batch_size), declared=declared,
                        hash_of=entry_hash, chain=CHAIN, start_seq=start_seq,
                        start_hash=start_hash, counter="audit log")
    if report.intact:
        extra = (AuditEntry.objects.filter(seq__gt=declared).order_by("seq")
                 .values_list("seq", flat=True).first())
        if extra is not None:
            from incidents.timeline import ChainReport
            return ChainReport(None, report.entries, extra,
                               "it lies beyond the log's recorded entries (added outside log())",
                               report.head_hash, report.head_seq, report.unsigned_through)
    return report


# --- hooks of the service functions --------------------------------------------------------------


class _Nobody:
    """actor= for what Relay does by itself inside someone's request (the grant of a paged user):
    log() then names no user, only the actor_label, instead of the request's user."""

    pk = None


NOBODY = _Nobody()


@contextmanager
def recording(thing: str, obj: models.Model, *, actor, verb: str = "", secrets=(),
              fields=None, incident=None, note: str = ""):
    """Log the save of `obj` done inside the block as "<thing>.create" or "<thing>.update" (or
    "<thing>.<verb>"): the row as stored before (forms have already set their values on the
    instance), the instance after, and the names of the secrets that changed, never their values.
    Nothing is logged when the block raises (a refused change)."""
    old = type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk is not None else None
    yield
    verb = verb or ("create" if old is None else "update")
    log(f"{thing}.{verb}", obj, actor=actor, incident=incident, note=note,
        before=snapshot(old, fields, secrets) if old is not None else None,
        after=snapshot(obj, fields, secrets),
        secrets_changed=[name for name in secrets
                         if (getattr(obj, name) != getattr(old, name) if old is not None
                             else getattr(obj, name))])


def log_delete(thing: str, obj: models.Model, *, actor, secrets=(), fields=None,
               incident=None) -> AuditEntry | None:
    """Call before deleting, in the same transaction: the entry keeps the row's last state."""
    return log(f"{thing}.delete", obj, actor=actor, incident=incident,
               before=snapshot(obj, fields, secrets), after=None)
