"""A post-mortem as one document: Markdown for the download, the page and the print view (through
incidents.markdown, which sanitises), and JSON for the API and for published revisions.

Text from the record (titles, notes, alert summaries, customer names) is escaped for Markdown, so
a note cannot turn into a link or a heading in the document; the sections people write are
Markdown on purpose and go in as written (sanitised when rendered).
"""

import re

from django.utils.safestring import SafeString

from incidents.markdown import render
from postmortems.facts import human
from postmortems.models import ActionItem, Level, Postmortem

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def escape(text) -> str:
    """Plain text as inline Markdown: special characters escaped, lines joined."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text or "").split()))


def facts_markdown(postmortem: Postmortem) -> str:
    """The drafted facts at the post-mortem's level (empty before the first draft)."""
    facts = postmortem.facts
    if not facts:
        return ""
    out: list[str] = []
    _impact(out, facts)
    _times(out, facts)
    if postmortem.level == Level.FULL:
        _people(out, facts)
        _entries(out, "What was tried", facts["tried"], "Nothing was noted.")
        _entries(out, "What fixed it", facts["fixed"],
                 "The record shows no entries before mitigation.")
        _alerts_and_pages(out, facts)
        _changes(out, facts)
        _messages(out, facts)
        _excerpt(out, facts)
        _cost(out, facts)
    else:
        _messages(out, facts)
    return "\n".join(out).strip() + "\n"


def markdown(postmortem: Postmortem, items: list[ActionItem] | None = None) -> str:
    """The whole document: title, state, facts, the people's sections and the action items."""
    incident = postmortem.incident
    items = _items(postmortem) if items is None else items
    out = [f"# Post-mortem: {incident.reference} {escape(incident.title)}", "",
           f"*{postmortem.get_level_display()} · {postmortem.get_state_display()} · "
           f"revision {postmortem.revision}*", ""]
    if postmortem.correction_reason:
        out += [f"> Correction: {escape(postmortem.correction_reason)}", ""]
    sections = {s["name"]: s for s in postmortem.sections()}
    if "summary" in sections:
        out += ["## Summary", "", sections.pop("summary")["text"].strip() or "*Not written yet.*",
                ""]
    facts = facts_markdown(postmortem)
    if facts:
        out += [facts]
    for section in sections.values():
        out += [f"## {section['heading']}", "", section["text"].strip() or "*Not written yet.*",
                ""]
    out += ["## Action items", ""]
    if items:
        out += ["| Item | Kind | Priority | Owner | Due | Status |",
                "| --- | --- | --- | --- | --- | --- |"]
        for item in items:
            title = escape(item.title)
            if item.ticket_url:
                title = f"[{title}]({item.ticket_url})"
            out.append(f"| {title} | {item.get_kind_display()} | {item.get_priority_display()} "
                       f"| {escape(item.owner.get_username()) if item.owner_id else '—'} "
                       f"| {item.due_on.isoformat()} | {item.get_status_display()} |")
        out.append("")
    else:
        out += ["*None yet.*", ""]
    return "\n".join(out).strip() + "\n"


def html(postmortem: Postmortem) -> SafeString:
    return render(markdown(postmortem))


def content(postmortem: Postmortem, items: list[ActionItem] | None = None) -> dict:
    """The post-mortem as JSON (API, revisions)."""
    items = _items(postmortem) if items is None else items
    incident = postmortem.incident
    return {
        "incident": {"number": incident.pk, "reference": incident.reference,
                     "title": incident.title, "severity": incident.severity},
        "level": postmortem.level,
        "state": postmortem.state,
        "revision": postmortem.revision,
        "version": postmortem.version,
        "facts": postmortem.facts,
        "sections": {s["name"]: s["text"] for s in postmortem.sections()},
        "correction_reason": postmortem.correction_reason,
        "published_at": _iso(postmortem.published_at),
        "action_items": [{
            "id": item.pk, "title": item.title, "description": item.description,
            "owner": item.owner.get_username() if item.owner_id else None,
            "due_on": item.due_on.isoformat(), "priority": item.priority, "kind": item.kind,
            "status": item.status, "ticket_url": item.ticket_url,
            "accepted_reason": item.accepted_reason,
        } for item in items],
    }


def _items(postmortem: Postmortem) -> list[ActionItem]:
    return list(postmortem.action_items.select_related("owner").order_by("due_on", "id"))


def _iso(value) -> str | None:
    return value.isoformat() if value else None


# --- Facts, part by part ------------------------------------------------------------------------

def _when(iso: str | None) -> str:
    return f"{iso[:10]} {iso[11:19]} UTC" if iso else "—"


def _impact(out: list[str], facts: dict) -> None:
    impact = facts["impact"]
    out += ["## Impact", ""]
    out.append(f"- **Services:** {', '.join(escape(s) for s in impact['services']) or '—'}")
    if impact["customers"]:
        names = ", ".join(f"{escape(c['name'])} ({escape(c['tier'])})"
                          for c in impact["customers"])
        out.append(f"- **Customers:** {names}")
    out.append(f"- **Customer tiers:** {', '.join(escape(t) for t in impact['tiers']) or '—'}")
    out.append(f"- **Customer impact:** {human(impact['duration_seconds'])} "
               "(from the start to mitigation)")
    out.append(f"- **Incident open:** {human(impact['open_seconds'])}")
    if impact["sla"]:
        out += ["", "| SLA clock | For | Target | Used | Outcome |",
                "| --- | --- | --- | --- | --- |"]
        for clock in impact["sla"]:
            used = human(clock["used_seconds"]) if clock["used_seconds"] is not None else "—"
            out.append(f"| {clock['kind'].capitalize()} | {escape(clock['for'])} | "
                       f"{human(clock['target_minutes'] * 60)} | {used} | "
                       f"{clock['outcome'].capitalize()} |")
    out.append("")


def _times(out: list[str], facts: dict) -> None:
    out += ["## Key times", "", "| Milestone | Time |", "| --- | --- |"]
    out += [f"| {t['label']} | {_when(t['at'])} |" for t in facts["key_times"]]
    out += ["", "| Duration (from the start) | |", "| --- | --- |"]
    out += [f"| {d['label']} | {human(d['seconds'])} |" for d in facts["durations"]]
    out.append("")


def _people(out: list[str], facts: dict) -> None:
    people = facts["people"]
    out += ["## People", "",
            f"- **Commander:** {escape(people['commander']) or '—'}",
            f"- **Communications lead:** {escape(people['comms_lead']) or '—'}",
            f"- **Responders:** {', '.join(escape(p) for p in people['responders']) or '—'}", ""]


def _entries(out: list[str], heading: str, lines: list[dict], empty: str) -> None:
    out += [f"## {heading}", ""]
    if not lines:
        out += [f"*{empty}*", ""]
        return
    out += [f"- {_when(e['at'])} · **{escape(e['actor'])}** · {e['label']}: {escape(e['text'])}"
            for e in lines]
    out.append("")


def _alerts_and_pages(out: list[str], facts: dict) -> None:
    alerts, pages = facts["alerts"], facts["pages"]
    out += ["## Alerts and pages", ""]
    if alerts["count"]:
        by = ", ".join(f"{escape(r['service'])} {r['count']}" for r in alerts["by_service"])
        out.append(f"- **Alerts:** {alerts['count']} ({alerts['events']} events): {by}")
        first = alerts["first"]
        out.append(f"- **First alert:** {_when(first['at'])} from {escape(first['source'])}: "
                   f"{escape(first['summary'])}")
    else:
        out.append("- **Alerts:** none (declared by a person)")
    people = ", ".join(escape(p) for p in pages["people"]) or "nobody"
    out.append(f"- **Pages:** {pages['count']} to {people}")
    if pages["acknowledged_by"]:
        names = ", ".join(escape(p) for p in pages["acknowledged_by"])
        out.append(f"- **Acknowledged by:** {names}")
    out.append(f"- **Escalations:** {pages['escalations']}"
               + (" · every step was paged without an answer" if pages["exhausted"] else ""))
    out.append("")


def _changes(out: list[str], facts: dict) -> None:
    out += ["## Changes shortly before it started", ""]
    if not facts["changes"]:
        out += ["*No change events on these services in the four hours before the start.*", ""]
        return
    out += [f"- {_when(c['at'])} ({human(c['before_start_seconds'])} before) · "
            f"{escape(c['service'])}: {escape(c['summary'])}"
            + (f" ({escape(c['source'])})" if c["source"] else "") for c in facts["changes"]]
    out.append("")


def _messages(out: list[str], facts: dict) -> None:
    out += ["## Customer messages published", ""]
    if not facts["messages"]:
        out += ["*None.*", ""]
        return
    out += [f"- {_when(m['at'])} · {m['phase'].capitalize()} · {escape(m['subject'])}"
            + (f" (by {escape(m['by'])})" if m["by"] else "")
            + (" · on the status page" if m["status_page"] else "") for m in facts["messages"]]
    out.append("")


def _excerpt(out: list[str], facts: dict) -> None:
    record = facts["record"]
    out += ["## Timeline excerpt", ""]
    out += [f"- [#{e['seq']}]({e['url']}) {_when(e['at'])} · {escape(e['actor'])} · "
            f"{e['label']}: {escape(e['text'])}" for e in facts["excerpt"]]
    out += ["", f"The full timeline ({record['through_seq']} entries when this was drafted) is "
                f"[in Relay]({record['timeline_url']}); [verify its hash chain]"
                f"({record['verify_url']}). Head of the chain: `{record['head_hash'][:16]}`.", ""]


def _cost(out: list[str], facts: dict) -> None:
    cost = facts["cost"]
    out += ["## Estimated cost of the response", "",
            f"About **{cost['amount']:,} {escape(cost['currency'])}**: {cost['responder_hours']} "
            f"responder-hours from the record ({cost['weighted_hours']} weighted by role) × "
            f"{cost['hourly_rate']} {escape(cost['currency'])} an hour.", ""]
    if cost["people"]:
        out += ["| Person | Role | Hours | Weight |", "| --- | --- | --- | --- |"]
        out += [f"| {escape(p['person'])} | {p['role'].replace('_', ' ')} | {p['hours']} | "
                f"{p['weight']} |" for p in cost["people"]]
        out.append("")
