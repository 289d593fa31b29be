"""On-call shifts as RFC 5545 calendars. Times are written in UTC (the `Z` form), which every
calendar application accepts without a VTIMEZONE block and which cannot be misread across a
daylight-saving change."""

import hashlib
from datetime import UTC, datetime

PRODID = "-//Relay//On-call//EN"


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1),
    never splitting a UTF-8 character."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        limit = 75 if not out else 74
        if len(current) + len(encoded) > limit:
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return "\r\n ".join(out)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _event(shift, calendar: str, label: str, now: datetime) -> list[str]:
    uid_source = f"{calendar}|{shift.who.pk}|{shift.start.isoformat()}|{shift.end.isoformat()}"
    uid = hashlib.sha256(uid_source.encode()).hexdigest()[:32]
    return [
        "BEGIN:VEVENT",
        f"UID:{uid}@relay",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(shift.start)}",
        f"DTEND:{_stamp(shift.end)}",
        f"SUMMARY:{_escape(label)}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def calendar(name: str, shifts_with_labels, now: datetime) -> str:
    """A VCALENDAR of (shift, label) pairs, CRLF line ends as the standard requires."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{_escape(name)}"]
    for shift, label in shifts_with_labels:
        lines += _event(shift, name, label, now)
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
