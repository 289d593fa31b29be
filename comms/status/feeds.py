"""The status page's history as Atom and RSS (Statuspage's history.atom and history.rss): one
entry per recent incident, and per maintenance once it has begun, with its updates as the
entry's HTML, newest first.

The updates are plain text from people: they are escaped here, once, for HTML; the feed writer
then escapes that HTML for XML, which is what a reader undoes. Links are absolute (SITE_URL):
a feed is read away from the site. Everything leaves through the response cache.
"""

import zoneinfo
from datetime import datetime

from django.conf import settings
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed, SyndicationFeed
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_safe

from comms.models import MaintenanceState
from comms.status import cache, public
from comms.status.public import IncidentView, MaintenanceView, Update

BEGUN = (MaintenanceState.IN_PROGRESS, MaintenanceState.VERIFYING, MaintenanceState.COMPLETED)


def _when(value: datetime, zone: zoneinfo.ZoneInfo) -> str:
    local = value.astimezone(zone)
    return f"{local:%b} {local.day}, {local:%H:%M} {local.tzname()}"


def _update_html(update: Update, zone: zoneinfo.ZoneInfo) -> str:
    return format_html("<p><small>{}</small><br><strong>{}</strong> - {}</p>",
                       _when(update.created_at, zone), update.status_label,
                       linebreaksbr(update.body, autoescape=True))


def content(view: IncidentView | MaintenanceView, zone: zoneinfo.ZoneInfo) -> str:
    """The entry's HTML: its updates, newest first (a maintenance without any: its text)."""
    updates = view.updates
    if not updates and isinstance(view, MaintenanceView):
        updates = [Update(code="", status=view.status, subject=view.name, body=view.body,
                          created_at=view.created_at)]
    html = format_html_join("", "{}", ((_update_html(u, zone),) for u in updates))
    if isinstance(view, MaintenanceView):
        html += format_html("<p>Scheduled from {} to {}.</p>", _when(view.scheduled_for, zone),
                            _when(view.scheduled_until, zone))
    return html


def entries() -> list[IncidentView | MaintenanceView]:
    """Recent incidents and begun maintenance, last changed first."""
    shown = [*public.recent_incidents(),
             *(m for m in public.recent_maintenances() if m.status in BEGUN)]
    shown.sort(key=lambda view: (view.updated_at, view.code), reverse=True)
    return shown[:public.RECENT]


def build(feed_class: type[SyndicationFeed], url_name: str) -> tuple[bytes, str]:
    page = public.page()
    zone = zoneinfo.ZoneInfo(page.time_zone)
    home = settings.SITE_URL + reverse("status:history-atom").removesuffix("history.atom")
    feed = feed_class(title=f"{page.name} - Incident History", link=home,
                      description=page.about or f"Incidents and maintenance on {page.name}",
                      feed_url=settings.SITE_URL + reverse(f"status:{url_name}"),
                      language="en")
    for view in entries():
        feed.add_item(title=view.name, link=view.shortlink, unique_id=view.shortlink,
                      description=content(view, zone), pubdate=view.created_at,
                      updateddate=view.updated_at)
    return feed.writeString("utf-8").encode(), feed.content_type


@require_safe
def atom(request):
    return cache.cached(request, "feed:atom", lambda: build(Atom1Feed, "history-atom"))


@require_safe
def rss(request):
    return cache.cached(request, "feed:rss", lambda: build(Rss201rev2Feed, "history-rss"))
