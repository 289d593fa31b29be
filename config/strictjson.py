"""The one JSON loader for input from outside (alert intake and the REST API).

Python's json module accepts documents PostgreSQL will not store or that crash Relay later:
NaN, Infinity and numbers that overflow to inf (not JSON for a jsonb column), NUL in a string
(text and jsonb refuse it), lone surrogates such as "\\ud800" (not encodable as UTF-8), and
nesting deep enough to raise RecursionError. This module refuses all of them before anything
is stored, and names where in the document the problem is (`details.foo`, `alerts[0].labels`),
so every caller can answer 400 with the field."""

import json
import math
import re
from itertools import accumulate

MAX_DEPTH = 64

# Characters PostgreSQL cannot store in text or jsonb: NUL, and surrogates (valid pairs are
# already joined into one character by the parser, so any left here are unpaired).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]")
_DEPTH_STEP = str.maketrans({"[": "1", "{": "1", "]": "2", "}": "2"})


class StrictJSONError(ValueError):
    """`path` names the offending place ("" for the document itself)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path or 'body'}: {message}")
        self.path = path
        self.message = message


def loads(data: bytes | str):
    text = _decode(data)
    _check_depth(text)
    try:
        value = json.loads(text, parse_constant=_NotFinite, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        raise StrictJSONError("", f"Malformed JSON: {error}.") from None
    _check_values(value)
    return value


def unstorable_reason(text: str) -> str | None:
    """Why PostgreSQL would refuse this text, or None when it can be stored."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Must not contain NUL (\\u0000) characters."
    return "Must not contain unpaired surrogates (such as \\ud800)."


def scrub(text: str) -> str:
    """Replace what PostgreSQL cannot store with U+FFFD, for input we keep rather than refuse."""
    return UNSTORABLE.sub("\ufffd", text)


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode(json.detect_encoding(data))
    except UnicodeDecodeError as error:
        raise StrictJSONError("", f"Malformed JSON: not valid {error.encoding}.") from None


def _check_depth(text: str) -> None:
    """Count brackets outside strings, without recursing, before the parser sees them."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text)).translate(_DEPTH_STEP)
    deepest = max(accumulate(1 if step == "1" else -1 for step in brackets), default=0)
    if deepest > MAX_DEPTH:
        raise StrictJSONError("", f"Nested deeper than {MAX_DEPTH} levels.")


class _NotFinite:
    """Stands in for NaN, Infinity or an overflowing number until the walk finds its path."""

    def __init__(self, literal: str):
        self.literal = literal


def _finite_float(literal: str) -> float | _NotFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NotFinite(literal)


def _check_values(document) -> None:
    """Walk the parsed document iteratively, checking every number, string and key."""
    pending = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, _NotFinite):
            raise StrictJSONError(path, f"{value.literal[:40]} is not a finite number.")
        if isinstance(value, str):
            _check_text(path, value)
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                _check_text(child, key)
                pending.append((child, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value))


def _check_text(path: str, text: str) -> None:
    reason = unstorable_reason(text)
    if reason:
        # The path itself may hold the bad characters (a key): show it scrubbed.
        raise StrictJSONError(scrub(path), reason)
