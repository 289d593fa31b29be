"""Every kind of contact method, declared once: how it is sent, what address it takes, and how
often it may carry a message unless the method sets its own limit. A new kind is one more
ContactKind member and one more row of KINDS (tests/oncall/test_contact_kinds.py requires both).

The models import ContactKind and validate_address from here, so this module imports no model."""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, RegexValidator, URLValidator
from django.db import models

from config import outbound
from oncall.channels import email, sms, webhook
from oncall.channels.base import Message


class ContactKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack-style webhook"
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice call"


_PHONE = RegexValidator(r"^\+[1-9][0-9]{6,14}$",
                        "Give the number in international form, such as +4915112345678.")


def _outbound_url(address: str) -> None:
    URLValidator(schemes=["http", "https"])(address)
    outbound.validate_url(address)  # no private or local addresses (sending checks again)


@dataclass(frozen=True)
class Kind:
    send: Callable[[str, Message], str]  # a receipt, or ChannelError
    validate: Callable[[str], None]  # raises ValidationError on an address it cannot use
    # (messages, per minutes) a method of this kind may carry; every limit applies.
    throttles: tuple[tuple[int, int], ...]


# Phones ring and buzz: SMS and voice calls also have a limit per quarter hour.
KINDS = {
    ContactKind.EMAIL: Kind(email.send, EmailValidator(), ((1, 1),)),
    ContactKind.WEBHOOK: Kind(webhook.send, _outbound_url, ((1, 1),)),
    ContactKind.SLACK: Kind(webhook.send_slack, _outbound_url, ((1, 1),)),
    ContactKind.SMS: Kind(sms.send_sms, _PHONE, ((1, 1), (5, 15))),
    ContactKind.VOICE: Kind(sms.place_call, _PHONE, ((1, 1), (3, 15))),
}
# For a page whose kind has since gone: the strictest common limit.
FALLBACK_THROTTLES = ((1, 1),)


def default_throttles(kind: str) -> tuple[tuple[int, int], ...]:
    known = KINDS.get(kind)
    return known.throttles if known else FALLBACK_THROTTLES


def validate_address(kind: str, address: str) -> None:
    """Raise a ValidationError on `address` when it cannot work for a method of `kind`."""
    if kind not in KINDS:
        raise ValidationError({"kind": f"Unknown contact method {kind!r}."})
    try:
        KINDS[kind].validate(address)
    except ValidationError as error:
        raise ValidationError({"address": error.messages}) from None
