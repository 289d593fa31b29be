"""Webhook and Slack-style incoming-webhook senders over plain HTTP(S) POST."""

import json
import urllib.error
import urllib.request

from django.conf import settings

from oncall.channels.base import ChannelError, Message


def post_json(url: str, payload: dict) -> str:
    if not url.startswith(("http://", "https://")):  # never file: or other schemes
        raise ChannelError(f"Not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 — scheme checked above
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Relay/1"})
    try:
        timeout = settings.RELAY_WEBHOOK_TIMEOUT
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        raise ChannelError(f"HTTP {error.code} from {url}") from error
    except (urllib.error.URLError, OSError) as error:
        raise ChannelError(f"Cannot reach {url}: {getattr(error, 'reason', error)}") from error


def send(url: str, message: Message) -> str:
    return post_json(url, {"subject": message.subject, "text": message.text,
                       "links": message.links, **message.data})


def send_slack(url: str, message: Message) -> str:
    """Slack's incoming-webhook shape: `text` as fallback, Block Kit with link buttons."""
    buttons = [{"type": "button", "text": {"type": "plain_text", "text": name.capitalize()},
                "url": url} for name, url in message.links.items()]
    blocks = [{"type": "section", "text": {"type": "mrkdwn",
                                           "text": f"*{message.subject}*\n{message.text}"}}]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return post_json(url, {"text": f"{message.subject}\n{message.text}", "blocks": blocks})
