"""The incident row is derived state: replaying its timeline gives what its title, severity,
status, roles and restriction must be. Verification reports every field where the row disagrees
(someone changed the row without the timeline that every service function writes with it)."""

from incidents.models import EntryKind, Incident, Status


def replay(entries) -> dict:
    """The state the timeline says, from entries in seq order."""
    state = {"title": None, "severity": None, "status": None, "commander": "",
             "comms_lead": "", "responders": [], "restricted": False}
    for entry in entries:
        kind, data = entry.kind, entry.data or {}
        if kind == EntryKind.DECLARED:
            state.update(title=entry.note, severity=entry.new_value, status=Status.TRIGGERED,
                         restricted=bool(data.get("restricted")),
                         commander=data.get("commander", ""))
        elif kind == EntryKind.STATUS:
            state["status"] = entry.new_value
        elif kind == EntryKind.SEVERITY:
            state["severity"] = entry.new_value
        elif kind == EntryKind.MERGED_INTO:
            state["status"] = Status.MERGED
        elif kind == EntryKind.FIELD and data.get("field") == "title":
            state["title"] = entry.new_value
        elif kind == EntryKind.RESTRICTION and "restricted" in data:
            state["restricted"] = bool(data["restricted"])
        elif kind == EntryKind.ROLE:
            role = data.get("role")
            if role in ("commander", "comms_lead"):
                state[role] = entry.new_value
            elif role == "responders":
                state["responders"] = sorted(n for n in entry.new_value.split(", ") if n)
    return state


def current(incident: Incident) -> dict:
    def name(user):
        return user.get_username() if user else ""
    return {"title": incident.title, "severity": incident.severity, "status": incident.status,
            "commander": name(incident.commander), "comms_lead": name(incident.comms_lead),
            "responders": sorted(u.get_username() for u in incident.responders.all()),
            "restricted": incident.restricted}


LABELS = {"title": "title", "severity": "severity", "status": "status",
          "commander": "commander", "comms_lead": "comms lead", "responders": "responders",
          "restricted": "restriction"}


def disagreements(incident: Incident, entries) -> list[str]:
    """One sentence per field where the row says something its timeline does not."""
    said = replay(entries)
    if said["status"] is None:
        return []  # no timeline to replay (an erased one is reported by the chain checks)
    now = current(incident)
    return [f"its {LABELS[field]} is {_show(now[field])} but its timeline says "
            f"{_show(said[field])}" for field in LABELS if now[field] != said[field]]


def _show(value) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "nobody"
    if value == "":
        return "nobody"
    return repr(value) if isinstance(value, str) else str(value).lower()
