"""Secrets out of the logs: a filter every handler carries (Django's LOGGING and gunicorn's).

Several URLs are their own credential: an integration's intake key is a path segment, a page's
acknowledge link carries a signed token, a calendar feed takes `?token=`. Django's request log
("Bad Request: /integrations/generic/<key>/") and the access log would otherwise hand them to
anyone who can read the logs. The filter works on the final message (arguments already merged),
so it catches a secret whichever logger or format string produced it.
"""

import logging
import re

REDACTED = "[redacted]"

_RULES = [
    # Intake keys: /integrations/<format>/<key>/…; PagerDuty's key is in the body, its path fixed.
    (re.compile(r"(/integrations/(?!pagerduty/v2/)[\w-]+/)[^/\s?#\"']+"), rf"\1{REDACTED}"),
    # Signed page-action links: /pages/<token>/<action>/
    (re.compile(r"(/pages/)[^/\s?#\"']+(/[\w-]+)"), rf"\1{REDACTED}\2"),
    # Calendar feeds and any other secret carried in a query string.
    (re.compile(r"([?&;](?:token|key|secret)=)[^&\s#\"']+", re.IGNORECASE), rf"\1{REDACTED}"),
    # Authorization headers however they are printed (header line, META dict, repr).
    (re.compile(r"(authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|token|basic)\s+)?)"
                r"[^\s\"',;}]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(r"\b(bearer)\s+(?!\[redacted\])[^\s\"',;}]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    # Reply addresses carry the page token after '+': relay+<token>@example.com
    (re.compile(r"([\w.-]+)\+[^@\s<>\"',;]+@"), rf"\1+{REDACTED}@"),
]


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites the record's message in place; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        # The arguments are merged in now; leaving them would format them a second time.
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
