"""Relay's own JSON format, for scripts and tools without a dedicated module. The schema is
published in the OpenAPI document (see incidents.intake.openapi)."""

from incidents.intake.formats.events import (
    SOURCE_SEVERITIES,
    SUMMARY_MAX,
    Action,
    AlertEvent,
    ChangeEventData,
    choice,
    optional_datetime,
    optional_object,
    optional_text,
    require_object,
    require_text,
    stable_key,
)


def parse(payload) -> list[AlertEvent]:
    payload = require_object(payload, "body")
    action = choice(optional_text(payload, "action") or Action.TRIGGER, Action.ALL, "action")
    summary = (require_text(payload, "summary", limit=SUMMARY_MAX) if action == Action.TRIGGER
               else optional_text(payload, "summary", limit=SUMMARY_MAX))
    source = optional_text(payload, "source")
    dedup_key = optional_text(payload, "dedup_key") or stable_key(summary, source)
    severity = optional_text(payload, "severity") or "warning"
    return [AlertEvent(
        action=action,
        dedup_key=dedup_key,
        summary=summary,
        source=source,
        source_severity=choice(severity, SOURCE_SEVERITIES, "severity"),
        grouping_key=optional_text(payload, "grouping_key"),
        source_url=optional_text(payload, "source_url", limit=2048),
        details=optional_object(payload, "details"),
        raw=payload,
    )]


def parse_change(payload) -> ChangeEventData:
    payload = require_object(payload, "body")
    links = payload.get("links") or []
    return ChangeEventData(
        summary=require_text(payload, "summary", limit=SUMMARY_MAX),
        source=optional_text(payload, "source"),
        happened_at=optional_datetime(payload, "timestamp"),
        details=optional_object(payload, "details"),
        links=links if isinstance(links, list) else [],
    )
