"""The range of times Relay accepts as input, checked in one place.

Python and PostgreSQL both store year 1 and year 9999, but a page that shows such a time in
the viewer's time zone, or a rotation that steps a week past it, raises OverflowError on every
load. So every date and time that comes in (forms, API, alert payloads, services) must lie in
[EARLIEST, LATEST): far wider than any incident or rota needs, and far inside what renders."""

from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MESSAGE = "Must be between 1970-01-01 and 2200-01-01 (UTC)."


def in_range(value: date | datetime) -> bool:
    if not isinstance(value, datetime):
        return EARLIEST.date() <= value < LATEST.date()
    if value.tzinfo is None:
        # A naive wall time is at most a day from UTC: the margin keeps it renderable anywhere.
        value = value.replace(tzinfo=UTC)
    return EARLIEST <= value < LATEST


def validate(value: date | datetime | None) -> None:
    """A field validator (Django forms, models and DRF serializers all take it)."""
    if value is not None and not in_range(value):
        raise ValidationError(MESSAGE, code="out_of_range")


def check(**values: date | datetime | None) -> None:
    """For services: every named value in range, else one ValidationError naming them."""
    errors = {name: MESSAGE for name, value in values.items()
              if value is not None and not in_range(value)}
    if errors:
        raise ValidationError(errors)
