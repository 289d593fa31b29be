import smtplib

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
                         headers={"Message-ID": message.message_id} if message.message_id
                         else None)
    try:
        email.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as error:
        raise ChannelError(f"SMTP: {error}") from error
    return "accepted by SMTP server"
