"""Senders: one module per kind of contact method, one function `send(address, message)` each,
tied to their kinds in oncall.channels.kinds. A sender returns a short receipt on success and
raises ChannelError on any failure; it never swallows an error, so the caller can record it and
retry."""

from oncall.channels.base import ChannelError, Message
from oncall.channels.kinds import KINDS


def send(kind: str, address: str, message: Message) -> str:
    try:
        sender = KINDS[kind].send
    except KeyError:
        raise ChannelError(f"No sender for contact method {kind!r}.") from None
    return sender(address, message)


__all__ = ["ChannelError", "Message", "send"]
