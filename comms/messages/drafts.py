"""What a prepared draft says: the phase templates (a stored MessageTemplate row, else the default
here) and the facts they are filled with: the services, the impact, the affected customers and
the internal updates (notes and status changes) since the last published message."""

import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from comms.messages import permissions as perms
from comms.models import CustomerMessage, MessageState, MessageTemplate, Phase, UpdateCadence
from config.errors import NotAllowed
from config.strictjson import unstorable_reason
from incidents.models import EntryKind, Incident, Status

PLACEHOLDERS = {
    "incident": "the incident's reference, e.g. INC-42",
    "severity": "its severity, e.g. P1",
    "services": "the affected services, by name",
    "impact": "the incident's description (its first paragraph), else its title",
    "customers": "the affected customers, by name (every recipient sees all of them)",
    "updates": "status updates, notes and status changes since the last published message, "
               "one a line, with their times (UTC)",
    "known": "what we know, from the latest status update",
    "doing": "what we are doing, from the latest status update",
    "next_update": "when the next update is due (UTC)",
}


@dataclass(frozen=True)
class Wording:
    subject: str
    body: str


DEFAULTS = {
    Phase.INVESTIGATING: Wording(
        "Investigating: {services} disruption",
        "We are investigating an issue affecting {services}.\n\nImpact: {impact}\n\n"
        "What we know so far:\n{updates}\n\nWe will send the next update by {next_update}."),
    Phase.IDENTIFIED: Wording(
        "Identified: {services} disruption",
        "We have identified the cause of the issue affecting {services} and are working on a "
        "fix.\n\nImpact: {impact}\n\nLatest updates:\n{updates}\n\n"
        "We will send the next update by {next_update}."),
    Phase.MONITORING: Wording(
        "Monitoring: {services}",
        "A fix for the issue affecting {services} is in place and we are monitoring the "
        "results.\n\nLatest updates:\n{updates}\n\nWe will send the next update by "
        "{next_update}."),
    Phase.RESOLVED: Wording(
        "Resolved: {services}",
        "The issue affecting {services} is resolved.\n\nImpact: {impact}\n\n"
        "Thank you for your patience. We will share what we learn from it."),
}


def wording(phase: str) -> Wording:
    row = MessageTemplate.objects.filter(phase=phase).first()
    return Wording(row.subject, row.body) if row else DEFAULTS[phase]


def check_placeholders(text: str) -> list[str]:
    """Problems with the {placeholders} of a template text: unknown names, formats, braces."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        return [f"Braces do not match ({error}); write {{{{ and }}}} for literal braces."]
    problems = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            problems.append(f"Unknown placeholder {{{name}}}; use one of "
                            f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}.")
        elif spec or conversion:
            problems.append(f"{{{name}}} takes no format or conversion.")
    return problems


def save_template(*, by, phase: str, subject: str, body: str) -> MessageTemplate:
    if not perms.can_change_templates(by):
        raise NotAllowed("Only Communications can change the message templates.")
    errors = {}
    if phase not in Phase.values:
        errors["phase"] = "Unknown phase."
    for name, text, limit in (("subject", subject, 200), ("body", body, 10000)):
        text = (text or "").strip()
        problems = check_placeholders(text)
        if not text:
            problems = ["This cannot be empty."]
        elif len(text) > limit:
            problems = [f"At most {limit} characters."]
        elif unstorable_reason(text):
            problems = [unstorable_reason(text)]
        if problems:
            errors[name] = problems
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row, _ = MessageTemplate.objects.update_or_create(
            phase=phase, defaults={"subject": subject.strip(), "body": body.strip()})
    return row


# --- Filling a template ---------------------------------------------------------------------------

def facts(incident: Incident, now: datetime, cadence: UpdateCadence | None) -> dict:
    since = (CustomerMessage.objects.filter(incident=incident, state=MessageState.PUBLISHED)
             .order_by("-published_at").values_list("published_at", flat=True).first())
    entries = incident.timeline.filter(
        kind__in=[EntryKind.NOTE, EntryKind.STATUS, EntryKind.UPDATE])
    if since:
        entries = entries.filter(created_at__gt=since)
    entries = list(entries.order_by("seq"))
    lines = [_line(e) for e in entries]
    description = incident.description.strip().split("\n\n")[0].strip()
    # The latest structured update is the source of record: what we know and do, and when the
    # next update comes (unless the message cadence says).
    update = next((e for e in reversed(entries) if e.kind == EntryKind.UPDATE), None) or \
        incident.timeline.filter(kind=EntryKind.UPDATE).order_by("-seq").first()
    promised = parse_datetime((update.data.get("next_update_at") or "") if update else "")
    if cadence:
        next_update = f"{now + timedelta(minutes=cadence.minutes):%H:%M} UTC"
    elif promised and promised > now:
        next_update = f"{promised.astimezone(UTC):%H:%M} UTC"
    else:
        next_update = "the next change"
    return {
        "incident": incident.reference,
        "severity": incident.severity,
        "services": ", ".join(s.name for s in incident.services.all()) or "our service",
        "impact": description or incident.title,
        "customers": ", ".join(c.name for c in incident.customers.all()) or "—",
        "updates": "\n".join(lines) or "- No new updates since the last message.",
        "next_update": next_update,
        "known": _flat(update.data.get("known", "")) if update else "—",
        "doing": _flat(update.data.get("doing", "")) if update else "—",
    }


def _flat(text: str) -> str:
    return " ".join(str(text).split())


def _line(entry) -> str:
    when = f"{entry.created_at:%H:%M} UTC"
    if entry.kind == EntryKind.STATUS:
        return f"- {when}: status changed to {Status(entry.new_value).label.lower()}"
    if entry.kind == EntryKind.UPDATE:
        status = Status(entry.data["status"]).label if entry.data.get("status") in Status.values \
            else entry.data.get("status", "")
        return (f"- {when}: {status}. What we know: {_flat(entry.data.get('known', ''))} "
                f"What we are doing: {_flat(entry.data.get('doing', ''))}")
    return f"- {when}: {' '.join(entry.note.split())}"


def fill(phase: str, values: dict) -> Wording:
    template = wording(phase)
    return Wording(template.subject.format_map(values), template.body.format_map(values))
