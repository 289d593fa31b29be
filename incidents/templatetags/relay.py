from datetime import timedelta

from django import template

from incidents import markdown
from incidents.models import Status

register = template.Library()

MILESTONE_LABELS = {
    "started_at": "started", "detected_at": "detected", "acknowledged_at": "acknowledged",
    "mitigated_at": "mitigated", "resolved_at": "resolved",
}
FIELD_LABELS = {"title": "title", "description": "description", "services": "services",
                "customer_tiers": "customer tiers"}
ROLE_LABELS = {"commander": "commander", "comms_lead": "communications lead",
               "responders": "responders"}


@register.filter
def duration(value: timedelta | None) -> str:
    """A compact, human duration: 45s, 12m, 3h 05m, 2d 4h."""
    if value is None:
        return "—"
    seconds = max(int(value.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    return markdown.render(text)


@register.filter
def status_label(value: str) -> str:
    return Status(value).label if value in Status.values else value


@register.filter
def milestone_label(name: str) -> str:
    return MILESTONE_LABELS.get(name, name)


@register.filter
def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


@register.filter
def role_label(name: str) -> str:
    return ROLE_LABELS.get(name, name)


@register.filter
def actor(entry) -> str:
    if entry.actor_id:
        return entry.actor.get_username()
    return entry.actor_label or "Relay"
