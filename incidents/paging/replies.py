"""Replies to page emails: "ack" or "resolve" sent back to the page's Reply-To address.

The raw RFC 822 message comes from the mail system (the HTTP endpoint or `manage.py
ingest_reply`). It is matched to its page by the signed token in the address it was sent to, or
in the Message-ID it answers (In-Reply-To / References), and must come from the address the page
went to. The first line that is not quoted decides what to do.
"""

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses

from django.core import signing

from config.errors import DomainError, Invalid
from incidents import services
from incidents.models import Page
from incidents.paging import links

COMMANDS = {"ack": "acknowledge", "acknowledge": "acknowledge", "acknowledged": "acknowledge",
            "resolve": "resolve", "resolved": "resolve"}
MAX_BYTES = 1_000_000


class ReplyError(Invalid):
    """The reply cannot be acted on; the message says why, in a sentence. The sender of a reply
    gets one kind of answer (400), whatever refused it."""


@dataclass(frozen=True)
class ReplyResult:
    page: Page
    action: str

    @property
    def summary(self) -> str:
        verb = "acknowledged" if self.action == "acknowledge" else "resolved"
        return f"{self.page.incident.reference} {verb} by {self.page.user.get_username()}."


def handle_reply(raw: bytes) -> ReplyResult:
    if not raw or len(raw) > MAX_BYTES:
        raise ReplyError("The message is empty or larger than 1 MB.")
    message = message_from_bytes(raw, policy=policy.default)
    page = _page_of(message)
    _check_sender(message, page)
    action = _command(message)
    try:
        services.act_on_page(page, action, actor_label="email reply")
    except DomainError as error:
        raise ReplyError(error.message) from None
    return ReplyResult(page, action)


def _page_of(message: EmailMessage) -> Page:
    headers = [v for h in ("To", "Cc", "Delivered-To") for v in message.get_all(h, [])]
    recipients = [address for _, address in getaddresses(headers)]
    quoted = re.findall(r"<[^<>]+>", " ".join(
        str(message.get(h, "")) for h in ("In-Reply-To", "References")))
    attempts = [(links.page_for_reply_address, a) for a in recipients if "+" in a]
    attempts += [(links.page_for_message_id, m) for m in quoted]
    for lookup, value in attempts:
        try:
            page = lookup(value)
        except signing.SignatureExpired:
            raise ReplyError("The page this replies to is too old; use the incident page.") \
                from None
        except (signing.BadSignature, Page.DoesNotExist, ValueError, KeyError):
            continue
        return page
    raise ReplyError("The reply does not answer a page (no valid token in the address or in "
                     "In-Reply-To).")


def _check_sender(message: EmailMessage, page: Page) -> None:
    senders = {address.lower() for _, address in getaddresses(message.get_all("From", []))}
    allowed = {page.address.lower(), (page.user.email or "").lower()} - {""}
    if not senders & allowed:
        raise ReplyError("The reply does not come from the address the page was sent to.")


def _command(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(">"):
            continue
        word = re.sub(r"[^a-z]", "", line.split()[0].lower())
        if word in COMMANDS:
            return COMMANDS[word]
        break
    raise ReplyError('Reply with "ack" or "resolve" on the first line.')
