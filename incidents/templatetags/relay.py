from datetime import timedelta

from django import template
from django.core.cache import caches
from django.template.loader import get_template
from django.utils import dateformat, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts import timezones
from incidents import markdown
from incidents.models import Status
from incidents.paging import leads

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
def pages_nobody(incident) -> bool:
    """The incident page header's "Nobody will be paged" banner (incidents.paging.leads)."""
    return leads.incident_pages_nobody(incident)


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


ENTRY_TEMPLATE = "incidents/partials/_timeline_entry.html"


def _entry_key(entry, zone: str) -> str:
    # The hash covers everything the entry says; outside it are the actor's name, whether this
    # reader may see the incident the entry links to, and the reader's time zone.
    name = entry.actor.get_username() if entry.actor_id else ""
    hidden = int(bool(getattr(entry, "hides_link", False)))
    return f"entry:{entry.pk}:{entry.hash}:{name}:{hidden}:{zone}"


@register.simple_tag
def timeline_entries(entries) -> str:
    """The entries' HTML. Entries never change, so each is rendered once per process and then
    served from the `timeline` cache: a long timeline costs one cache lookup, not hundreds of
    template renders."""
    cache = caches["timeline"]
    zone = timezone.get_current_timezone_name()
    keys = {_entry_key(entry, zone): entry for entry in entries}
    found = cache.get_many(list(keys))
    label = timezones.label()
    missing = {key: get_template(ENTRY_TEMPLATE).render({"entry": entry, "tz_label": label})
               for key, entry in keys.items() if key not in found}
    if missing:
        cache.set_many(missing, timeout=None)
    return mark_safe("".join(found.get(key) or missing[key] for key in keys))  # noqa: S308


def ago(value, now=None) -> str:
    """"12 min ago", "in 5 min": the relative time people scan for; relay.js keeps it fresh."""
    seconds = ((now or timezone.now()) - value).total_seconds()
    future, seconds = seconds < 0, abs(int(seconds))
    if seconds < 60:
        return "just now" if not future else "in under a minute"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            amount = f"{seconds // size} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return ""


@register.simple_tag
def local_time(value, fmt="M j, H:i", relative=False):
    """A time in the reader's zone (accounts.timezones), labelled with the zone, the full date
    in its tooltip and, with relative=True, how long ago."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is None:
        return "—"
    local = timezone.localtime(value)
    zone = timezones.label(local.tzinfo, local)
    text = format_html('<time datetime="{}" title="{} {}">{} {}</time>', value.isoformat(),
                       dateformat.format(local, "D j M Y, H:i:s"), zone,
                       dateformat.format(local, fmt), zone)
    if relative:
        text += format_html(' <span class="ago" data-ago="{}">{}</span>', value.isoformat(),
                            ago(value))
    return text
