"""Senders: one module per kind of contact method, one function `send(address, message)` each.
A sender returns a short receipt on success and raises ChannelError on any failure; it never
swallows an error, so the caller can record it and retry."""

from oncall.channels import email, sms, webhook
from oncall.channels.base import ChannelError, Message
from oncall.models import ContactKind

SENDERS = {
    ContactKind.EMAIL: email.send,
    ContactKind.WEBHOOK: webhook.send,
    ContactKind.SLACK: webhook.send_slack,
    ContactKind.SMS: sms.send_sms,
    ContactKind.VOICE: sms.place_call,
}


def send(kind: str, address: str, message: Message) -> str:
    try:
        sender = SENDERS[kind]
    except KeyError:
        raise ChannelError(f"No sender for contact method {kind!r}.") from None
    return sender(address, message)


__all__ = ["ChannelError", "Message", "send"]
