"""Prometheus Alertmanager webhook, payload version 4: a group of alerts, each firing or
resolved, identified by its fingerprint (stable from firing to resolved)."""

from incidents.intake.formats.events import (
    Action,
    AlertEvent,
    PayloadError,
    optional_object,
    optional_text,
    require_object,
    require_text,
)

# Alertmanager's severity label is free text; these are the spellings seen in the wild.
SEVERITY_LABELS = {
    "critical": "critical", "page": "critical", "high": "error", "error": "error",
    "major": "error", "warning": "warning", "warn": "warning", "medium": "warning",
    "minor": "warning", "info": "info", "low": "info", "none": "info",
}


def parse(payload, *, version: str = "4") -> list[AlertEvent]:
    payload = require_object(payload, "body")
    if str(payload.get("version", "")) != version:
        raise PayloadError("version", f"Must be {version!r} (Alertmanager webhook payload).")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("alerts", "Must be a non-empty list.")
    group_key = optional_text(payload, "groupKey", limit=10_000)
    external_url = optional_text(payload, "externalURL", limit=2048)
    group = {
        "receiver": payload.get("receiver"),
        "group_labels": payload.get("groupLabels") or {},
        "truncated_alerts": payload.get("truncatedAlerts") or 0,
    }
    return [_event(alert, f"alerts[{i}].", group_key, external_url, group)
            for i, alert in enumerate(alerts)]


def _event(alert, prefix: str, group_key: str, external_url: str, group: dict) -> AlertEvent:
    alert = require_object(alert, prefix.rstrip("."))
    status = require_text(alert, "status", prefix)
    if status not in ("firing", "resolved"):
        raise PayloadError(prefix + "status", "Must be 'firing' or 'resolved'.")
    labels = _strings(optional_object(alert, "labels", prefix), prefix + "labels")
    annotations = _strings(optional_object(alert, "annotations", prefix), prefix + "annotations")
    fingerprint = require_text(alert, "fingerprint", prefix)
    return AlertEvent(
        action=Action.TRIGGER if status == "firing" else Action.RESOLVE,
        dedup_key=fingerprint,
        summary=summary_of(labels, annotations),
        source=labels.get("instance") or labels.get("job", ""),
        source_severity=SEVERITY_LABELS.get(labels.get("severity", "").lower(), ""),
        grouping_key=group_key[:255],
        source_url=optional_text(alert, "generatorURL", prefix, 2048) or external_url,
        details={"labels": labels, "annotations": annotations, **group,
                 "starts_at": alert.get("startsAt"), "ends_at": alert.get("endsAt")},
        raw=alert,
    )


def summary_of(labels: dict, annotations: dict) -> str:
    summary = annotations.get("summary") or annotations.get("description")
    if not summary:
        name = labels.get("alertname", "Alert")
        summary = f"{name} on {labels['instance']}" if labels.get("instance") else name
    return summary[:1024]


def _strings(mapping: dict, name: str) -> dict:
    if not all(isinstance(v, str) for v in mapping.values()):
        raise PayloadError(name, "Values must be strings.")
    return mapping
