"""The audit log for auditors and admins: newest first, filtered, a page at a time by keyset
(`?before=<seq>` / `?after=<seq>`), so each page costs the same few queries however long the
log is. Only readers with the log's view permission see any of it."""

import base64
import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from config import timerange
from config.spreadsheet import cell
from incidents import audit, checkpoints, evidence, permissions, replay, signing, timeline
from incidents.forms import Select
from incidents.models import AuditEntry, AuditSource, EntryKind, Incident, TimelineEntry

PAGE_SIZE = 50
_SEQ_MAX = 2 ** 63 - 1


def require_log_reader(user) -> None:
    if not permissions.can_view_audit_log(user):
        raise PermissionDenied("Only auditors and admins may read the audit log.")


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="Who",
                            widget=forms.TextInput(attrs={"placeholder": "username",
                                                          "type": "search"}))
    action = forms.CharField(required=False, max_length=60, label="Action starts with",
                             widget=forms.TextInput(attrs={"placeholder": "integration.",
                                                           "type": "search",
                                                           "list": "audit-actions"}))
    object_type = forms.ChoiceField(required=False, label="Object type", widget=Select)
    source = forms.ChoiceField(required=False, label="From",
                               choices=[("", "Anywhere"), *AuditSource.choices], widget=Select)
    start = forms.DateField(required=False, label="From day", validators=[timerange.validate],
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To day", validators=[timerange.validate],
                          widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, max_length=200, label="Object contains",
                        widget=forms.TextInput(attrs={"type": "search"}))

    def __init__(self, *args, object_types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [("", "Any type"),
                                              *((name, name) for name in object_types)]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The last day comes before the first.")
        return data

    def apply(self, entries):
        """The entries these filters keep; days are whole days in the reader's time zone."""
        data = self.cleaned_data
        if data.get("actor"):
            entries = entries.filter(actor_label__iexact=data["actor"])
        if data.get("action"):
            entries = entries.filter(action__startswith=data["action"].lower())
        if data.get("object_type"):
            entries = entries.filter(object_type=data["object_type"])
        if data.get("source"):
            entries = entries.filter(source=data["source"])
        if data.get("start"):
            entries = entries.filter(at__gte=_local_midnight(data["start"]))
        if data.get("end"):
            entries = entries.filter(at__lt=_local_midnight(data["end"] + timedelta(days=1)))
        if data.get("q"):
            entries = entries.filter(object_repr__icontains=data["q"])
        return entries


def _local_midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str
    secret: bool = False


def _show(value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def changes(entry: AuditEntry) -> list[Change]:
    """Field by field, old → new. A secret is only ever "changed": its value was never stored."""
    return field_changes(entry.before, entry.after, entry.secrets_changed)


def field_changes(before_state: dict | None, after_state: dict | None,
                  secrets_changed: list | None) -> list[Change]:
    """`changes` of an entry as stored, or as an evidence bundle carries it."""
    before, after = before_state or {}, after_state or {}
    secrets = set(secrets_changed or [])
    rows = []
    for name in sorted(set(before) | set(after) | secrets):
        if name in secrets or audit.SECRET in (before.get(name), after.get(name)):
            if name in secrets or before.get(name) != after.get(name):
                rows.append(Change(name, "", "changed", secret=True))
            continue
        old = _show(before.get(name)) if before_state is not None else ""
        new = _show(after.get(name)) if after_state is not None else ""
        rows.append(Change(name, old, new))
    return rows


def _seq(value) -> int | None:
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and int(text) <= _SEQ_MAX:
        return int(text)
    return None


def page_of(entries, *, before: int | None, after: int | None):
    """One page, newest first, and whether older and newer entries exist beyond it."""
    if after is not None and before is None:
        rows = list(entries.filter(seq__gt=after).order_by("seq")[:PAGE_SIZE + 1])
        newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        return rows, True, newer
    if before is not None:
        entries = entries.filter(seq__lt=before)
    rows = list(entries.order_by("-seq")[:PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE, before is not None


# Walking the whole log costs about 0.5 ms an entry (a hash and a signature each: 10 s at
# 20,000 entries, measured on PostgreSQL here), too much for every page view: the verdict is
# kept this long, shown with the time it was reached, and "Check again" reaches a new one.
VERDICT_SECONDS = 300
VERDICT_KEY = "relay:audit-log-verdict"


@dataclass(frozen=True)
class Verdict:
    chain: checkpoints.ChainVerdict | None
    checkpoint_error: str
    checked_at: datetime


def chain_verdict(*, fresh: bool = False) -> Verdict:
    """The audit chain weighed against the checkpoints (or why the checkpoints fail)."""
    kept = None if fresh else cache.get(VERDICT_KEY)
    if kept is not None:
        return kept
    try:
        verdict = Verdict(checkpoints.verify_audit(), "", timezone.now())
    except checkpoints.CheckpointError as error:
        verdict = Verdict(None, str(error), timezone.now())
    cache.set(VERDICT_KEY, verdict, VERDICT_SECONDS)
    return verdict


def _filter_form(request) -> AuditFilterForm:
    object_types = (AuditEntry.objects.order_by("object_type")
                    .values_list("object_type", flat=True).distinct())
    return AuditFilterForm(request.GET or None, object_types=[t for t in object_types if t])


@login_required
@require_GET
def log(request):
    require_log_reader(request.user)
    entries = AuditEntry.objects.all()
    form = _filter_form(request)
    status = 200
    rows, older, newer = [], False, False
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        if form.is_bound:
            entries = form.apply(entries)
        rows, older, newer = page_of(entries, before=_seq(request.GET.get("before")),
                                     after=_seq(request.GET.get("after")))
    for entry in rows:
        entry.changes = changes(entry)
    query = request.GET.copy()
    for key in ("before", "after", "recheck"):
        query.pop(key, None)
    verdict = chain_verdict(fresh=request.GET.get("recheck") == "1")
    actions = (AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())
    return render(request, "incidents/audit_log.html", {
        "form": form, "entries": rows, "older": older, "newer": newer,
        "query": query.urlencode(), "verdict": verdict.chain,
        "checkpoint_error": verdict.checkpoint_error, "checked_at": verdict.checked_at,
        "actions": actions, "filtered": any(v for v in query.values()),
    }, status=status)


# --- Export -----------------------------------------------------------------------------------

EXPORT_COLUMNS = ["seq", "at", "actor", "source", "ip", "action", "object_type", "object_id",
                  "object_repr", "incident", "changes", "note", "prev_hash", "hash", "signature"]
EXPORT_CHUNK = 1000


@login_required
@require_GET
def export(request, fmt):
    """The entries the /audit/ filters keep, oldest first, as CSV (a spreadsheet: changes as
    text, cells that look like formulas defused) or JSON Lines (each entry as the evidence bundle
    carries it, with its hashes and signature, so a chain can be checked offline). Streamed, in
    chunks; the export itself is an audit entry, written first."""
    require_log_reader(request.user)
    form = _filter_form(request)
    if form.is_bound and not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        return HttpResponse(f"The filters do not hold up: {problems}\n", status=400,
                            content_type="text/plain; charset=utf-8")
    filters = {name: str(value) for name, value in (form.cleaned_data if form.is_bound else {})
               .items() if value}
    audit.log("audit.export", object_type="audit log", actor=request.user,
              after={"format": fmt, "filters": filters},
              note=f"Audit log exported as {'CSV' if fmt == 'csv' else 'JSON Lines'}")
    entries = form.apply(AuditEntry.objects.all()) if form.is_bound else AuditEntry.objects.all()
    rows = entries.order_by("seq").iterator(chunk_size=EXPORT_CHUNK)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(
            (json.dumps(evidence.audit_data(entry), ensure_ascii=False) + "\n" for entry in rows),
            content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="relay-audit-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


def _csv_lines(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    for entry in rows:
        writer.writerow([cell(value) for value in (
            entry.seq, entry.at.isoformat(), entry.actor_label, entry.source, entry.ip or "",
            entry.action, entry.object_type, entry.object_id, entry.object_repr,
            entry.incident_id or "", _changes_text(entry), entry.note, entry.prev_hash,
            entry.hash, entry.signature or "")])
        yield flush()


def _changes_text(entry: AuditEntry) -> str:
    return "; ".join(f"{c.field}: changed (a secret, never stored)" if c.secret else
                     f"{c.field}: {c.old or '—'} → {c.new or '—'}" for c in changes(entry))


# --- An incident's full record and its evidence bundle ---------------------------------------

def _incident(request, number) -> Incident:
    queryset = Incident.objects.select_related("commander", "comms_lead", "declared_by")
    return permissions.get_visible_incident(request.user, number, queryset)


def signature_status(entry_hash: str, signature: str | None) -> str:
    if signature is None:
        return "unsigned"
    valid = signing.verify(signing.entry_message(timeline.CHAIN, entry_hash), signature)
    return "valid" if valid else "invalid"


def _kind_label(kind: str) -> str:
    return EntryKind(kind).label if kind in EntryKind.values else kind


def check_entries(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """Mark each entry: does it link to the one before, match its hash, carry a valid signature."""
    previous = timeline.GENESIS_HASH
    for entry in entries:
        entry.link_ok = entry.prev_hash == previous
        entry.hash_ok = timeline.entry_hash(entry) == entry.hash
        entry.signature_status = signature_status(entry.hash, entry.signature)
        entry.kind_label = _kind_label(entry.kind)
        entry.shown_actor = entry.actor.get_username() if entry.actor_id else (
            entry.actor_label or "Relay")
        entry.data_json = json.dumps(entry.data, sort_keys=True, ensure_ascii=False)
        previous = entry.hash
    return entries


def shown_entries(bundle: dict) -> list[dict]:
    """The bundle's entries as the printout shows them (the JSON keeps them as they are)."""
    return [{**entry, "signature_status": signature_status(entry["hash"], entry["signature"]),
             "kind_label": _kind_label(entry["kind"]),
             "shown_actor": entry["actor_name"] or entry["actor_label"] or "Relay",
             "data_json": json.dumps(entry["data"], sort_keys=True, ensure_ascii=False)}
            for entry in bundle["timeline"]]


@login_required
@require_GET
def record(request, number):
    """An incident's whole timeline, entry by entry, with the verdict of checkpoints.verify_incident
    and what replaying the timeline says the incident row must be."""
    incident = _incident(request, number)
    checkpoint_error = ""
    try:
        known = checkpoints.coverage()
    except checkpoints.CheckpointError as error:
        known, checkpoint_error = checkpoints.Coverage(), str(error)
    verdict = checkpoints.verify_incident(incident, known)
    entries = check_entries(list(incident.timeline.select_related("actor").order_by("seq")))
    said, now = replay.replay(entries), replay.current(incident)
    return render(request, "incidents/verify.html", {
        "incident": incident, "verdict": verdict, "checkpoint_error": checkpoint_error,
        "checkpoint_time": known.created.get(verdict.checkpoint_number),
        "latest_checkpoint": known.latest, "entries": entries,
        "replayed": [(label, _said(now[field]), _said(said[field]), now[field] == said[field])
                     for field, label in replay.LABELS.items()] if said["status"] else [],
        "can_export": permissions.can_view_audit_log(request.user),
    })


def _said(value) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "nobody"
    if isinstance(value, bool):
        return "restricted" if value else "not restricted"
    return value or "nobody"


def _evidence(request, number) -> tuple[Incident, dict]:
    require_log_reader(request.user)  # the bundle carries audit entries
    incident = _incident(request, number)
    return incident, evidence.export(incident, by=request.user)


@login_required
@require_GET
def evidence_json(request, number):
    incident, document = _evidence(request, number)
    response = HttpResponse(evidence.to_json(document), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{incident.reference}-evidence.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def evidence_page(request, number):
    """The same bundle, printable; the digest and key id match it to its JSON, which the page
    carries itself (the download link) so both come from one export."""
    incident, document = _evidence(request, number)
    raw = evidence.to_json(document)
    response = render(request, "incidents/evidence.html", {
        "incident": incident, "bundle": document["bundle"], "key_id": document["key_id"],
        "entries": shown_entries(document["bundle"]),
        "audit_entries": [
            {**entry, "changes": field_changes(entry["before"], entry["after"],
                                               entry["secrets_changed"])}
            for entry in document["bundle"]["audit_entries"]],
        "parts": evidence.printed_parts(document["bundle"]),
        "digest": evidence.digest(document["bundle"]),
        "download": "data:application/json;base64," + base64.b64encode(raw).decode(),
        "filename": f"{incident.reference}-evidence.json",
    })
    response["Cache-Control"] = "no-store"
    return response
