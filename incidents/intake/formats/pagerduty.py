"""PagerDuty Events API v2 (`/v2/enqueue` and `/v2/change/enqueue`), so PagerDuty clients and
senders (Alertmanager's pagerduty_configs, Grafana, SDKs) work by changing only the base URL.

dedup_key as PagerDuty documents it: optional on trigger (one is generated and returned), required
on acknowledge and resolve; a trigger with the key of an open alert is a repeat of it."""

import uuid

from incidents.intake.formats.events import (
    SOURCE_SEVERITIES,
    SUMMARY_MAX,
    Action,
    AlertEvent,
    ChangeEventData,
    PayloadError,
    choice,
    optional_datetime,
    optional_object,
    optional_text,
    require_object,
    require_text,
)


def routing_key(payload) -> str:
    payload = require_object(payload, "body")
    key = optional_text(payload, "routing_key", limit=128)
    if not key:
        raise PayloadError("routing_key", "This field is required.")
    return key


def parse(payload) -> list[AlertEvent]:
    payload = require_object(payload, "body")
    action = choice(optional_text(payload, "event_action"), Action.ALL, "event_action")
    dedup_key = optional_text(payload, "dedup_key")
    if action != Action.TRIGGER:
        if not dedup_key:
            raise PayloadError("dedup_key", f"Required for event_action {action!r}.")
        return [AlertEvent(action=action, dedup_key=dedup_key, summary="", raw=payload)]
    body = require_object(payload.get("payload"), "payload")
    severity = choice(require_text(body, "severity", "payload."), SOURCE_SEVERITIES,
                      "payload.severity")
    optional_datetime(body, "timestamp", "payload.")
    return [AlertEvent(
        action=action,
        dedup_key=dedup_key or uuid.uuid4().hex,
        summary=require_text(body, "summary", "payload.", SUMMARY_MAX),
        source=require_text(body, "source", "payload."),
        source_severity=severity,
        grouping_key=optional_text(body, "group", "payload.") or optional_text(
            body, "class", "payload."),
        source_url=optional_text(payload, "client_url", limit=2048),
        details={
            "custom_details": body.get("custom_details") or {},
            "component": body.get("component"),
            "class": body.get("class"),
            "client": payload.get("client"),
            "links": _list(payload, "links"),
            "images": _list(payload, "images"),
        },
        raw=payload,
    )]


def parse_change(payload) -> ChangeEventData:
    payload = require_object(payload, "body")
    body = require_object(payload.get("payload"), "payload")
    custom = optional_object(body, "custom_details", "payload.")
    return ChangeEventData(
        summary=require_text(body, "summary", "payload.", SUMMARY_MAX),
        source=optional_text(body, "source", "payload."),
        happened_at=optional_datetime(body, "timestamp", "payload."),
        details=custom,
        links=_list(payload, "links"),
    )


def _list(payload: dict, name: str) -> list:
    value = payload.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PayloadError(name, "Must be a list of objects.")
    return value
