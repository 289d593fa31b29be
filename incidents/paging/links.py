"""A page's signed, expiring, single-use acknowledge and resolve links, and its reply token.

Each link names one page and one action; the signature proves Relay wrote it, the timestamp makes
it expire (RELAY_PAGE_LINK_HOURS). Opening a link only shows a confirmation form (mail scanners
follow links); the POST of that form acts, once, as the person who was paged, and only while
that person is active and may still act on the incident (services.act_on_page). The Reply-To of
a page email carries a third token, good only for replies. Notices ("acknowledged by …") carry
no token at all: they inform and cannot act.

"""


from django.conf import settings
from django.core import signing
from django.urls import reverse

from incidents.models import Page, PagePurpose

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
            "paging:page-action", args=[token_for(page, action), action])
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
