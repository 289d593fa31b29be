"""An incident's evidence bundle: everything the record holds about it (the incident, every
timeline entry with its hashes and signature, the audit entries that touched it, the verification
verdict, and what other apps add: customer messages, the post-mortem), as one JSON document
signed with Relay's Ed25519 key, so an auditor can keep it and check it offline
(`manage.py verify_evidence FILE`).

The document is {"bundle": {...}, "signature", "key_id", "public_key"}; the signature covers the
canonical JSON of "bundle" (sorted keys, compact separators, ASCII), as checkpoints are signed.
Timeline entries carry their times exactly as their hashes cover them, so each entry's hash can
be recomputed from the bundle alone.

Apps above this one add their parts with add_part() in their AppConfig.ready(), so this module
imports none of them.
"""

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents import audit, checkpoints, replay, signing
from incidents.models import AuditEntry, Incident, TimelineEntry

FORMAT = "relay-evidence"
VERSION = 1


class Part(NamedTuple):
    """What an app adds: its data, and the audit objects ((object_type, object_id) pairs) whose
    audit entries belong in the bundle too."""
    data: object
    objects: list[tuple[str, str]] = []


class Section(NamedTuple):
    build: Callable[[Incident], Part]
    template: str  # renders the part's data (as `data`) on the printable page


_parts: dict[str, Section] = {}


def add_part(name: str, build: Callable[[Incident], Part], template: str) -> None:
    """Add a key to every bundle: `build(incident)` gives its data; `template` prints it."""
    _parts[name] = Section(build, template)


def printed_parts(bundle: dict) -> list[tuple[str, dict]]:
    """(template, data) of each added part, for the printable page."""
    return [(section.template, bundle.get(name)) for name, section in sorted(_parts.items())]


def canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def iso(value) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value else None


def _name(user) -> str | None:
    return user.get_username() if user else None


def incident_data(incident: Incident) -> dict:
    return {
        "number": incident.pk, "reference": incident.reference, "title": incident.title,
        "description": incident.description, "severity": incident.severity,
        "status": incident.status, "restricted": incident.restricted,
        "commander": _name(incident.commander), "comms_lead": _name(incident.comms_lead),
        "responders": sorted(u.get_username() for u in incident.responders.all()),
        "declared_by": _name(incident.declared_by),
        "merged_into": incident.merged_into_id,
        "services": sorted(s.slug for s in incident.services.all()),
        "customer_tiers": sorted(t.slug for t in incident.customer_tiers.all()),
        **{name: iso(getattr(incident, name)) for name in (
            "started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at",
            "closed_at", "created_at")},
        "timeline_seq": incident.timeline_seq,
    }


def entry_data(entry: TimelineEntry) -> dict:
    return {
        "seq": entry.seq, "kind": entry.kind, "actor": entry.actor_id,
        "actor_name": _name(entry.actor), "actor_label": entry.actor_label,
        "created_at": iso(entry.created_at), "old_value": entry.old_value,
        "new_value": entry.new_value, "note": entry.note, "data": entry.data,
        "prev_hash": entry.prev_hash, "hash": entry.hash, "signature": entry.signature,
    }


def audit_data(entry: AuditEntry) -> dict:
    return {
        "seq": entry.seq, "at": iso(entry.at), "actor": entry.actor_id,
        "actor_label": entry.actor_label, "source": entry.source, "ip": entry.ip,
        "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
        "object_repr": entry.object_repr, "incident": entry.incident_id,
        "before": entry.before, "after": entry.after, "secrets_changed": entry.secrets_changed,
        "note": entry.note, "prev_hash": entry.prev_hash, "hash": entry.hash,
        "signature": entry.signature,
    }


def verification(incident: Incident, entries: list[TimelineEntry]) -> dict:
    checkpoint_error = ""
    try:
        known = checkpoints.coverage()
    except checkpoints.CheckpointError as error:
        known, checkpoint_error = checkpoints.Coverage(), str(error)
    verdict = checkpoints.verify_incident(incident, known)
    number = verdict.checkpoint_number
    return {
        "intact": verdict.intact and not checkpoint_error, "problems": verdict.problems,
        "checkpoint_error": checkpoint_error, "entries": verdict.entries,
        "checkpoint": {"number": number, "created_at": known.created.get(number),
                       "covers_through": verdict.checkpointed_seq} if number else None,
        "uncovered": list(verdict.uncovered) if verdict.uncovered else None,
        "replay": {"timeline_says": replay.replay(entries), "row_says": replay.current(incident),
                   "disagreements": replay.disagreements(incident, entries)},
        "checked_at": iso(timezone.now()),
    }


def touching(incident: Incident, objects) -> list[AuditEntry]:
    """Audit entries about this incident, or about objects of it the parts name."""
    query = Q(incident=incident) | Q(object_type="incidents.incident", object_id=str(incident.pk))
    for object_type, object_id in objects:
        query |= Q(object_type=object_type, object_id=str(object_id))
    return list(AuditEntry.objects.filter(query).order_by("seq"))


def build(incident: Incident, *, by) -> dict:
    entries = list(TimelineEntry.objects.filter(incident_id=incident.pk)
                   .select_related("actor").order_by("seq"))
    bundle = {"format": FORMAT, "version": VERSION, "incident": incident_data(incident),
              "timeline": [entry_data(entry) for entry in entries]}
    objects: list[tuple[str, str]] = []
    for name, section in sorted(_parts.items()):
        part = section.build(incident)
        bundle[name] = part.data
        objects += part.objects
    bundle["audit_entries"] = [audit_data(entry) for entry in touching(incident, objects)]
    bundle["verification"] = verification(incident, entries)
    bundle["generated_at"] = iso(timezone.now())
    bundle["generated_by"] = by.get_username()
    return bundle


def sign(bundle: dict) -> dict:
    return {"bundle": bundle, "signature": signing.sign(canonical(bundle)),
            "key_id": signing.key_id(), "public_key": signing.public_key_b64()}


def digest(bundle: dict) -> str:
    """SHA-256 of what the signature covers: printed on the page, shown by verify_evidence."""
    return hashlib.sha256(canonical(bundle)).hexdigest()


def export(incident: Incident, *, by) -> dict:
    """The signed bundle; its export is audited in the same transaction, and the bundle lists
    that audit entry among those that touched the incident."""
    with transaction.atomic():
        audit.log("evidence.export", incident, actor=by, incident=incident,
                  after={"exported_by": by.get_username()},
                  note=f"Evidence bundle of {incident.reference}")
        return sign(build(incident, by=by))


def to_json(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, indent=1).encode() + b"\n"


class BadDocument(ValueError):
    pass


def check(document, public_keys: list[Ed25519PublicKey]) -> tuple[str, str]:
    """The bundle's digest and the id of the key that signed it if the signature holds under
    one of these keys, else BadDocument
    saying why. A key embedded in the document is not trusted by itself: anyone can sign with
    their own key and embed it."""
    try:
        bundle, signature = document["bundle"], document["signature"]
        raw = base64.b64decode(signature, validate=True)
    except (KeyError, TypeError, ValueError):
        raise BadDocument("not a Relay evidence bundle (no bundle or signature)") from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BadDocument("not a Relay evidence bundle (format)")
    message = canonical(bundle)
    for key in public_keys:
        try:
            key.verify(raw, message)
            return hashlib.sha256(message).hexdigest(), signing.key_id(key)
        except InvalidSignature:
            continue
    raise BadDocument("the signature does not hold: the bundle was changed after it was signed, "
                      "or signed by a key not trusted here")


def public_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError:
        raise BadDocument(f"{text[:60]!r} is not the base64 of an Ed25519 public key") from None
