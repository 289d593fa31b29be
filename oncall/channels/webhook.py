"""Webhook and Slack-style incoming-webhook senders over plain HTTP(S) POST."""

from config import outbound
from oncall.channels.base import ChannelError, Message


def post_json(url: str, payload: dict, key: str = "") -> str:
    try:
        response = outbound.post_json(url, payload,
                                      headers={"Idempotency-Key": key} if key else None)
    except outbound.OutboundError as error:
        # Only config.outbound's fixed phrases: this text reaches the incident timeline.
        raise ChannelError(str(error)) from None
    return f"HTTP {response.status}"


def send(url: str, message: Message) -> str:
    return post_json(url, {"subject": message.subject, "text": message.text,
                           "links": message.links, **message.data}, message.key)


def slack_escape(text: str) -> str:
    """Slack's control characters as entities: an alert summary such as
    `<https://evil.example|Acknowledge> <!channel>` must show as text, not as a link or a ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_slack(url: str, message: Message) -> str:
    """Slack's incoming-webhook shape: `text` as fallback, Block Kit with link buttons."""
    subject, text = slack_escape(message.subject), slack_escape(message.text)
    buttons = [{"type": "button", "text": {"type": "plain_text", "text": name.capitalize()},
                "url": link} for name, link in message.links.items()]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{subject}*\n{text}"}}]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return post_json(url, {"text": f"{subject}\n{text}", "blocks": blocks}, message.key)
