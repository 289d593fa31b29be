"""The normalised shapes every format module produces, and the checks they share."""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

from config import timerange
from incidents.models import Severity


class Action:
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    ALL = (TRIGGER, ACKNOWLEDGE, RESOLVE)


# Severities as PagerDuty names them; every format maps onto these, and they onto P1–P4.
SOURCE_SEVERITIES = ("critical", "error", "warning", "info")
TO_INCIDENT_SEVERITY = {
    "critical": Severity.P1,
    "error": Severity.P2,
    "warning": Severity.P3,
    "info": Severity.P4,
}
SUMMARY_MAX = 1024


class PayloadError(Exception):
    """The body is not a valid event; `field` names where (answered as HTTP 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class AlertEvent:
    action: str
    dedup_key: str
    summary: str
    source: str = ""
    source_severity: str = ""
    grouping_key: str = ""
    source_url: str = ""
    details: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return TO_INCIDENT_SEVERITY.get(self.source_severity, Severity.P3)


@dataclass(frozen=True)
class ChangeEventData:
    summary: str
    source: str = ""
    happened_at: datetime | None = None
    details: dict = field(default_factory=dict)
    links: list = field(default_factory=list)


def require_object(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(name, "Must be a JSON object.")
    return value


def optional_object(payload: dict, name: str, prefix: str = "") -> dict:
    value = payload.get(name)
    if value is None:
        return {}
    return require_object(value, prefix + name)


def require_text(payload: dict, name: str, prefix: str = "", limit: int = 255) -> str:
    value = optional_text(payload, name, prefix, limit)
    if not value:
        raise PayloadError(prefix + name, "This field is required.")
    return value


def optional_text(payload: dict, name: str, prefix: str = "", limit: int = 255) -> str:
    value = payload.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(prefix + name, "Must be a string.")
    if len(value) > limit:
        raise PayloadError(prefix + name, f"Must be at most {limit} characters.")
    return value.strip()


def choice(value: str, allowed, name: str) -> str:
    if value not in allowed:
        raise PayloadError(name, f"Must be one of {', '.join(allowed)} (got {value!r}).")
    return value


def optional_datetime(payload: dict, name: str, prefix: str = "") -> datetime | None:
    text = optional_text(payload, name, prefix, limit=64)
    if not text:
        return None
    try:
        parsed = _in_utc(parse_datetime(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PayloadError(prefix + name, "Must be an ISO 8601 date-time with a time zone.")
    if not timerange.in_range(parsed):
        raise PayloadError(prefix + name, timerange.MESSAGE)
    return parsed


def _in_utc(value: datetime | None) -> datetime | None:
    # Python takes offsets up to ±23:59, PostgreSQL only up to ±15:59; the instant is the same.
    return value.astimezone(UTC) if value and value.tzinfo else value


def stable_key(*parts: str) -> str:
    """A dedup key for senders that give none: the same content always gives the same key."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
