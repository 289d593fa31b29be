from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError

from oncall import schedules, services
from oncall.models import Layer
from tests.conftest import make_user
from tests.oncall.conftest import add_layer, make_schedule

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_who_is_on_call_returns_the_user_of_the_current_turn():
    ann, bob = make_user("ann"), make_user("bob")
    schedule = make_schedule()
    add_layer(schedule, ann, bob)  # weekly from Monday 5 Jan 2026 09:00 Berlin
    assert schedules.who_is_on_call(schedule, utc(2026, 1, 5, 8, 30)) == ann
    assert schedules.who_is_on_call(schedule, utc(2026, 1, 12, 7, 59)) == ann
    assert schedules.who_is_on_call(schedule, utc(2026, 1, 12, 8, 0)) == bob


def test_override_wins_over_layers_and_higher_layer_over_lower():
    ann, bob, cat = make_user("ann"), make_user("bob"), make_user("cat")
    schedule = make_schedule()
    add_layer(schedule, ann)
    add_layer(schedule, bob, name="Business hours", rank=1, restrict_start=time(9),
              restrict_end=time(17))
    services.create_override(schedule, user=cat, start=utc(2026, 2, 3, 12),
                              end=utc(2026, 2, 3, 13))
    assert schedules.who_is_on_call(schedule, utc(2026, 2, 3, 7)) == ann  # 08:00 Berlin
    assert schedules.who_is_on_call(schedule, utc(2026, 2, 3, 9)) == bob
    assert schedules.who_is_on_call(schedule, utc(2026, 2, 3, 12, 30)) == cat
    shifts = schedules.final_shifts(schedule, utc(2026, 2, 3, 0), utc(2026, 2, 4, 0))
    assert [s.who.username for s in shifts] == ["ann", "bob", "cat", "bob", "ann"]


def test_gaps_are_reported_for_an_uncovered_schedule():
    schedule = make_schedule()
    add_layer(schedule, make_user("ann"), restrict_start=time(9), restrict_end=time(17))
    holes = schedules.gaps(schedule, utc(2026, 3, 2, 0), utc(2026, 3, 3, 0))
    assert holes == [(utc(2026, 3, 2, 0), utc(2026, 3, 2, 8)), (utc(2026, 3, 2, 16),
                                                                 utc(2026, 3, 3, 0))]


def test_override_must_end_after_it_starts():
    schedule = make_schedule()
    with pytest.raises(ValidationError) as error:
        services.create_override(schedule, user=make_user("ann"), start=utc(2026, 1, 2),
                                  end=utc(2026, 1, 1))
    assert "end" in error.value.message_dict


def test_layer_rejects_half_a_restriction_and_bad_weekdays():
    layer = Layer(schedule=make_schedule(), name="x", start_date=utc(2026, 1, 1).date(),
                  handoff_time=time(9), restrict_start=time(9))
    with pytest.raises(ValidationError):
        layer.clean()
    layer.restrict_end, layer.restrict_weekdays = time(17), [7]
    with pytest.raises(ValidationError):
        layer.clean()


def test_schedule_time_zone_is_validated():
    schedule = make_schedule()
    schedule.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError):
        schedule.full_clean()


def test_final_shifts_use_constant_queries(django_assert_max_num_queries):
    schedule = make_schedule()
    people = [make_user(f"p{i}") for i in range(6)]
    add_layer(schedule, *people[:3], unit="days")
    add_layer(schedule, *people[3:], name="Nights", rank=1, unit="hours", length=12)
    start = utc(2026, 6, 1)
    with django_assert_max_num_queries(4):
        schedules.final_shifts(schedule, start, start + timedelta(days=14))
