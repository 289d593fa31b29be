"""What a page, a notice and a bundle of them say, on every channel.

A restricted incident's title and text never travel in a page or a notice, on any channel: a
chat channel or a shared mailbox may be read by people the incident is hidden from. The page says
only its reference and severity, and the person paged opens Relay (being paged grants that person
access; see escalation._grant_paged).
"""

from incidents.models import Page, PagePurpose
from incidents.paging.links import links_for, reply_address, reply_token
from oncall.channels import Message
from oncall.channels.email import message_id


def _headline(incident) -> str:
    """The incident's title, unless it is restricted (see the module docstring)."""
    return "restricted incident, open Relay to see it" if incident.restricted else incident.title


def message_for(page: Page) -> Message:
    incident = page.incident
    headline = _headline(incident)
    data = {"incident": incident.reference, "number": incident.pk,
            "severity": incident.severity, "status": incident.status,
            "restricted": incident.restricted, "purpose": page.purpose, "page": page.pk,
            "step": page.step + 1, "round": page.round + 1, "user": page.user.get_username(),
            "channel": page.channel}
    if page.purpose == PagePurpose.PAGE:
        return Message(
            subject=f"[Relay] {incident.reference} {incident.severity}: {headline}",
            text=(f"{incident.reference} ({incident.get_severity_display()}) needs you: "
                  f"{headline}. Reply \"ack\" or \"resolve\", or use the links."),
            links=links_for(page), reply_to=reply_address(page), data=data,
            message_id=message_id(reply_token(page)))
    if page.purpose == PagePurpose.NOTICE:
        return Message(subject=page.subject, text=page.body, links=links_for(page),
                       data={**data, "reason": page.reason},
                       message_id=message_id(f"relay-{page.purpose}-{page.pk}"))
    verb = "acknowledged" if page.purpose == PagePurpose.ACKNOWLEDGED else "resolved"
    return Message(subject=f"[Relay] {incident.reference} {verb}: {headline}",
                   text=f"{incident.reference} was {verb}. You no longer need to respond to its "
                        f"page.",
                   links=links_for(page), data=data,
                   message_id=message_id(f"relay-{page.purpose}-{page.pk}"))


def message_for_bundle(pages: list[Page]) -> Message:
    """One message for everything waiting for one contact method. Pages saying the same thing
    (same incident, same purpose) collapse into one line."""
    lines: dict[tuple, Page] = {}
    for page in pages:
        lines.setdefault((page.incident_id, page.purpose), page)
    if len(lines) == 1:
        return message_for(pages[0])
    items = [message_for(page) for page in lines.values()]
    incidents = {p.incident_id for p in lines.values() if p.purpose == PagePurpose.PAGE}
    subject = f"[Relay] {_summary(len(incidents), [p for p in lines.values()])}"
    text = "\n\n".join(f"{m.subject}\n{m.text}\n" + "\n".join(
        f"{name.capitalize()}: {url}" for name, url in m.links.items()) for m in items)
    return Message(subject=subject, text=text, links={},
                   data={"purpose": "bundle", "items": [
                       {**m.data, "subject": m.subject, "links": m.links} for m in items]})


def _summary(needing: int, pages: list[Page]) -> str:
    services = {s.name for p in pages for s in p.incident.services.all()}
    restricted = any(p.incident.restricted for p in pages)  # names no restricted service
    where = f" on {services.pop()}" if len(services) == 1 and not restricted else ""
    if needing == 1:
        return f"1 incident{where} needs you"
    if needing:
        return f"{needing} incidents{where} need you"
    return f"{len(pages)} updates{where}"
