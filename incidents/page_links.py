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
ACTIONS = ("acknowledge", "resolve")


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


def reply_address(page: Page) -> str:
    """A Reply-To address carrying the token, so a reply "ack" finds its page. The signature's
    ':' separators are not allowed in an address, so they travel as '='."""
    local, _, domain = settings.DEFAULT_FROM_EMAIL.rpartition("<")[2].rstrip(">").partition("@")
    return f"{local}+{token_for(page).replace(':', '=')}@{domain}"


def page_for_reply_address(address: str) -> Page:
    """The page a reply was addressed to (see reply_address); errors as page_for_token."""
    local = address.strip().strip("<>").rpartition("@")[0]
    if "+" not in local:
        raise signing.BadSignature("The address carries no page token.")
    return page_for_token(local.split("+", 1)[1].replace("=", ":"))


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
                         "purpose": page.purpose},
                   message_id=f"<page-{page.pk}.{incident.pk}@relay>")

