"""A raw RFC 822 message (posted by an MTA pipe or `manage.py ingest_email`): the subject is the
summary, the plain-text body the details, the Message-ID the dedup key unless the integration
says to deduplicate by subject (and sender).

Text PostgreSQL cannot store is replaced, not refused: NUL bytes, and the surrogates that
decoding undeclared 8-bit headers leaves behind (surrogateescape), become U+FFFD in the subject,
headers and body. A mail pipe cannot read a 400, and an alert with a mangled character is worth
more than a lost one. Only a message with nothing usable (no Subject) is refused."""

from email import policy
from email.parser import BytesParser

from config.strictjson import scrub
from incidents.intake.formats.events import (
    SUMMARY_MAX,
    Action,
    AlertEvent,
    PayloadError,
    stable_key,
)

BODY_MAX = 20_000


def parse(message: bytes, dedup_by: str = "message_id") -> list[AlertEvent]:
    if not message.strip():
        raise PayloadError("body", "An RFC 822 message is required.")
    parsed = BytesParser(policy=policy.default).parsebytes(message)
    subject = " ".join(_header(parsed, "Subject").split())
    if not subject:
        raise PayloadError("Subject", "The message needs a Subject header.")
    sender = _header(parsed, "From")
    message_id = _header(parsed, "Message-ID").strip()
    return [AlertEvent(
        action=Action.TRIGGER,
        dedup_key=_dedup_key(dedup_by, message_id, subject, sender)[:255],
        summary=subject[:SUMMARY_MAX],
        source=sender[:255],
        details={"body": scrub(_text_body(parsed)), "from": sender,
                 "to": _header(parsed, "To"), "date": _header(parsed, "Date")},
        raw={"message_id": message_id, "subject": subject, "from": sender},
    )]


def _header(parsed, name: str) -> str:
    return scrub(str(parsed.get(name, "")))


def _text_body(parsed) -> str:
    part = parsed.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        return part.get_content()[:BODY_MAX]
    except (LookupError, UnicodeError):
        return part.get_payload(decode=True).decode("utf-8", "replace")[:BODY_MAX]


def _dedup_key(dedup_by: str, message_id: str, subject: str, sender: str) -> str:
    if dedup_by == "subject":
        return stable_key(subject)
    if dedup_by == "subject_sender" or not message_id:
        return stable_key(subject, sender)
    return message_id
