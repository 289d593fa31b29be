"""The status page follows the incidents' timelines (registered in CommsConfig.ready())."""

from comms.models import CustomerMessage, PublicIncident
from comms.status import cache, components, notices
from incidents.models import EntryKind, Incident, TimelineEntry

STATUS_PAGE = "status page"  # the audience name comms.messages writes on its entry
# Entries that change how a shown incident looks (or whether it is shown at all).
SHOWN_CHANGES = frozenset({EntryKind.STATUS, EntryKind.SEVERITY, EntryKind.RESTRICTION,
                           EntryKind.MERGED_INTO, EntryKind.FIELD})


def on_timeline(incident: Incident, entry: TimelineEntry) -> None:
    if entry.kind == EntryKind.MESSAGE_PUBLISHED and STATUS_PAGE in entry.data.get("audience", ()):
        published(incident, entry)
    elif entry.kind in SHOWN_CHANGES and PublicIncident.objects.filter(incident=incident).exists():
        cache.invalidate()
    components.follow(incident, entry)


def published(incident: Incident, entry: TimelineEntry) -> None:
    """A message for the status page was published: the incident is on the page from now on,
    under the first such message's subject."""
    message = CustomerMessage.objects.get(pk=entry.data["message"])
    public, created = PublicIncident.objects.get_or_create(
        incident=incident, defaults={"name": message.subject,
                                     "first_published_at": entry.created_at,
                                     "updated_at": entry.created_at})
    if not created:
        PublicIncident.objects.filter(pk=public.pk).update(updated_at=entry.created_at)
    cache.invalidate()
    if not incident.restricted:
        notices.for_message(message)
