"""What a page says, and its signed, expiring, single-use acknowledge and resolve links.

Each link names one page and one action; the signature proves Relay wrote it, the timestamp makes
it expire (RELAY_PAGE_LINK_HOURS). Opening a link only shows a confirmation form (mail scanners
follow links); the POST of that form acts, once, as the person who was paged, and only while
that person is active and may still act on the incident (services.act_on_page). The Reply-To of
a page email carries a third token, good only for replies. Notices ("acknowledged by …") carry
no token at all: they inform and cannot act.

A restricted incident's title and text never travel in a page or a notice, on any channel: a
chat channel or a shared mailbox may be read by people the incident is hidden from. The page says
only its reference and severity, and the person paged opens Relay (being paged grants that person
access; see escalation._grant_paged).
"""

from email.utils import make_msgid

from django.conf import settings
from django.core import signing
from django.urls import reverse

from incidents.models import Page, PagePurpose
from oncall.channels import Message

SALT = "relay.page-link"
ACTIONS = ("acknowledge", "resolve")  # what services.act_on_page does
REPLY = "reply"  # the token in a Reply-To address: good for an emailed "ack" or "resolve"


def token_for(page: Page, action: str) -> str:
    return signing.dumps({"p": page.pk, "a": action}, salt=SALT, compress=True)


def page_for_token(token: str, action: str) -> Page:
    """The page a token names, if it was made for `action`. Raises signing.BadSignature (or
    SignatureExpired) if forged, altered, too old or made for another action; Page.DoesNotExist
    if the page is gone."""
    data = signing.loads(token, salt=SALT, max_age=settings.RELAY_PAGE_LINK_HOURS * 3600)
    if not isinstance(data, dict) or data.get("a") != action:
        raise signing.BadSignature("The token was not made for this action.")
    return Page.objects.select_related("incident", "user").get(pk=data["p"])


def incident_url(page: Page) -> str:
    return settings.SITE_URL + reverse("incidents:detail", args=[page.incident_id])


def links_for(page: Page) -> dict[str, str]:
    """A page's links: one per action, plus the incident. A notice has only the incident's."""
    links = {}
    if page.purpose == PagePurpose.PAGE:
        links = {action: settings.SITE_URL + reverse(
            "incidents:page-action", args=[token_for(page, action), action])
            for action in ACTIONS}
    links["incident"] = incident_url(page)
    return links


def reply_token(page: Page) -> str:
    """The reply token in a form allowed in addresses and Message-IDs (':' travels as '=')."""
    return token_for(page, REPLY).replace(":", "=")


def reply_address(page: Page) -> str:
    """A Reply-To address carrying the token, so a reply "ack" finds its page."""
    local, _, domain = settings.DEFAULT_FROM_EMAIL.rpartition("<")[2].rstrip(">").partition("@")
    return f"{local}+{reply_token(page)}@{domain}"


def page_for_reply_address(address: str) -> Page:
    """The page a reply was addressed to (see reply_address); errors as page_for_token."""
    local = address.strip().strip("<>").rpartition("@")[0]
    if "+" not in local:
        raise signing.BadSignature("The address carries no page token.")
    return page_for_token(local.split("+", 1)[1].replace("=", ":"), REPLY)


def page_for_message_id(message_id: str) -> Page:
    """The page whose Message-ID a reply quotes (In-Reply-To / References)."""
    local = message_id.strip().strip("<>").rpartition("@")[0]
    return page_for_token(local.replace("=", ":"), REPLY)


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
            message_id=f"<{reply_token(page)}@relay>")
    verb = "acknowledged" if page.purpose == PagePurpose.ACKNOWLEDGED else "resolved"
    return Message(subject=f"[Relay] {incident.reference} {verb}: {headline}",
                   text=f"{incident.reference} was {verb}. You no longer need to respond to its "
                        f"page.",
                   links=links_for(page), data=data, message_id=make_msgid(domain="relay"))


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
