import smtplib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage

from oncall.channels.base import ChannelError, Message


def send(address: str, message: Message) -> str:
    body = message.text
    if message.links:
        body += "\n\n" + "\n".join(f"{name.capitalize()}: {url}"
                                   for name, url in message.links.items())
    email = EmailMessage(subject=message.subject, body=body,
                         from_email=settings.DEFAULT_FROM_EMAIL, to=[address],
                         reply_to=[message.reply_to] if message.reply_to else None,
                         headers=_headers(message))
    try:
        email.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as error:
        raise ChannelError(f"SMTP: {error}") from error
    return "accepted by SMTP server"


def message_id(local: str) -> str:
    """A Message-ID that is the same on every attempt at one delivery, so a resend after a
    worker died mid-send is one message to mail clients; this site's host keeps it apart from
    another installation's."""
    return f"<{local}@{urlsplit(settings.SITE_URL).hostname or 'relay'}>"


def _headers(message: Message) -> dict | None:
    """A page's Message-ID carries its reply token; a bundle's is made from its delivery key."""
    chosen = message.message_id or (message_id(message.key) if message.key else "")
    return {"Message-ID": chosen} if chosen else None
