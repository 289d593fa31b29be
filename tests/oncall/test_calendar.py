"""iCal feeds: valid RFC 5545 that `icalendar` parses back, behind a token."""

from datetime import UTC, datetime

import icalendar
import pytest
from django.urls import reverse

from oncall import schedules
from oncall.views import feed_window
from tests.conftest import make_user
from tests.oncall.conftest import add_layer, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def rota():
    ann, bob = make_user("ann"), make_user("bob")
    schedule = make_schedule(name="Checkout; primary, EU")  # characters iCal must escape
    add_layer(schedule, ann, bob, unit="days", start=datetime(2026, 1, 1).date())
    return schedule, ann, bob


def _parse(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content
    assert b"\r\n" in body and b"\n" not in body.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    return icalendar.Calendar.from_ical(body)


def test_schedule_feed_lists_final_shifts_in_utc(client, rota):
    schedule, ann, bob = rota
    url = reverse("oncall:schedule-calendar", args=[schedule.pk])
    calendar = _parse(client.get(url, {"token": schedule.calendar_token}))
    assert str(calendar["X-WR-CALNAME"]) == "On call · Checkout; primary, EU"
    events = calendar.walk("VEVENT")
    now = datetime.now(UTC)
    expected = schedules.final_shifts(schedule, *feed_window(now))
    assert len(events) == len(expected) > 50
    first = events[0]
    assert first.decoded("DTSTART") == expected[0].start
    assert first.decoded("DTEND") == expected[0].end
    assert str(first["SUMMARY"]) == (f"On call: {expected[0].who.username} "
                                     f"(Checkout; primary, EU)")
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_schedule_feed_with_wrong_or_missing_token_is_not_found(client, rota):
    schedule, _, _ = rota
    url = reverse("oncall:schedule-calendar", args=[schedule.pk])
    assert client.get(url, {"token": "guess"}).status_code == 404
    assert client.get(url).status_code == 404
    assert b"VEVENT" not in client.get(url).content


def test_user_feed_lists_only_that_users_shifts(client, rota):
    schedule, ann, bob = rota
    feed = schedules.calendar_feed(ann)
    url = reverse("oncall:user-calendar", args=[ann.pk])
    events = _parse(client.get(url, {"token": feed.token})).walk("VEVENT")
    assert events and all(str(e["SUMMARY"]) == f"On call: {schedule.name}" for e in events)
    mine = {e.decoded("DTSTART") for e in events}
    now = datetime.now(UTC)
    shifts = schedules.final_shifts(schedule, *feed_window(now))
    assert mine == {s.start for s in shifts if s.who == ann}
    other = reverse("oncall:user-calendar", args=[bob.pk])
    assert client.get(other, {"token": feed.token}).status_code == 404
