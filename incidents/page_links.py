"""What a page says, and its signed, expiring acknowledge and resolve links.

A link names the page it was sent in; the signature proves Relay wrote it, the timestamp makes it
expire. Opening a link only shows a confirmation form (mail scanners follow links); the POST of
that form acts, as the person who was paged.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from incidents.models import Page, PagePurpose
from oncall.channels import Message

SALT = "relay.page-link"
ACTIONS = ("acknowledge", "resolve")  # what services.act_on_page does


def token_for(page: Page) -> str:
    return signing.dumps({"p": page.pk}, salt=SALT, compress=True)


def page_for_token(token: str) -> Page:
    """The page a token names. Raises signing.BadSignature (or SignatureExpired) if forged,
    altered or too old; Page.DoesNotExist if the page is gone."""
    data = signing.loads(token, salt=SALT, max_age=settings.RELAY_PAGE_LINK_HOURS * 3600)
    return Page.objects.select_related("incident", "user").get(pk=data["p"])


def links_for(page: Page) -> dict[str, str]:
    token = token_for(page)
    links = {action: settings.SITE_URL + reverse("incidents:page-action", args=[token, action])
             for action in ACTIONS}
    links["incident"] = settings.SITE_URL + reverse("incidents:detail",
                                                    args=[page.incident_id])
    return links


def reply_token(page: Page) -> str:
    """The token in a form allowed in addresses and Message-IDs (':' travels as '=')."""
    return token_for(page).replace(":", "=")


def reply_address(page: Page) -> str:
    """A Reply-To address carrying the token, so a reply "ack" finds its page."""
    local, _, domain = settings.DEFAULT_FROM_EMAIL.rpartition("<")[2].rstrip(">").partition("@")
    return f"{local}+{reply_token(page)}@{domain}"


def page_for_reply_address(address: str) -> Page:
    """The page a reply was addressed to (see reply_address); errors as page_for_token."""
    local = address.strip().strip("<>").rpartition("@")[0]
    if "+" not in local:
        raise signing.BadSignature("The address carries no page token.")
    return page_for_token(local.split("+", 1)[1].replace("=", ":"))


def page_for_message_id(message_id: str) -> Page:
    """The page whose Message-ID a reply quotes (In-Reply-To / References)."""
    local = message_id.strip().strip("<>").rpartition("@")[0]
    return page_for_token(local.replace("=", ":"))


def message_for(page: Page) -> Message:
    incident = page.incident
    subject = f"[Relay] {incident.reference} {incident.severity}: {incident.title}"
    if page.purpose == PagePurpose.PAGE:
        text = (f"{incident.reference} ({incident.get_severity_display()}) needs you: "
                f"{incident.title}. Reply \"ack\" or \"resolve\", or use the links.")
        links = links_for(page)
    else:
        verb = "acknowledged" if page.purpose == PagePurpose.ACKNOWLEDGED else "resolved"
        subject = f"[Relay] {incident.reference} {verb}: {incident.title}"
        text = f"{incident.reference} was {verb}. You no longer need to respond to its page."
        links = {"incident": links_for(page)["incident"]}
    return Message(subject=subject, text=text, links=links, reply_to=reply_address(page),
                   data={"incident": incident.reference, "number": incident.pk,
                         "severity": incident.severity, "status": incident.status,
                         "purpose": page.purpose, "page": page.pk, "step": page.step + 1,
                         "round": page.round + 1, "user": page.user.get_username(),
                         "channel": page.channel},
                   message_id=f"<{reply_token(page)}@relay>")



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
    where = f" on {services.pop()}" if len(services) == 1 else ""
    if needing == 1:
        return f"1 incident{where} needs you"
    if needing:
        return f"{needing} incidents{where} need you"
    return f"{len(pages)} updates{where}"
