from dataclasses import dataclass, field


class ChannelError(Exception):
    """Sending failed; the message says why in words fit for the incident timeline."""


@dataclass(frozen=True)
class Message:
    """What a page or a notice says, independent of the channel carrying it."""

    subject: str
    text: str
    links: dict[str, str] = field(default_factory=dict)  # action name → absolute URL
    data: dict = field(default_factory=dict)  # machine-readable fields for webhooks
    reply_to: str = ""
    message_id: str = ""
    # The same for every attempt at one delivery (a retry, or a resend after a worker died
    # mid-send): sent as `Idempotency-Key`, so a receiver that honours it shows the message once.
    key: str = ""
