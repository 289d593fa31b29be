"""SMS and voice through a carrier. The carrier is outside this machine, so it sits behind a
small provider interface; the default provider posts to an HTTP gateway (RELAY_SMS_GATEWAY_URL)
that relays to the carrier."""

from django.conf import settings

from oncall.channels.base import ChannelError, Message
from oncall.channels.webhook import post_json

SMS_LIMIT = 160


def _gateway() -> str:
    if not settings.RELAY_SMS_GATEWAY_URL:
        raise ChannelError("No SMS/voice gateway is configured (RELAY_SMS_GATEWAY_URL).")
    return settings.RELAY_SMS_GATEWAY_URL


def _short(message: Message) -> str:
    link = message.links.get("acknowledge", "")
    text = f"{message.subject} {link}".strip()
    return text if len(text) <= SMS_LIMIT else text[:SMS_LIMIT - 1] + "…"


def send_sms(number: str, message: Message) -> str:
    return post_json(_gateway(), {"type": "sms", "to": number, "body": _short(message)},
                     message.key)


def place_call(number: str, message: Message) -> str:
    return post_json(_gateway(), {"type": "voice", "to": number, "say": message.subject},
                     message.key)
