"""The uptime bars, against hand-computed figures: Statuspage's weights (major outage fully,
partial outage 30 %, degraded and maintenance not at all), days of the page's time zone."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from comms.models import Component, ComponentChange, ComponentStatus
from comms.status import uptime

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def make(name="API", created_at=LONG_AGO, status=ComponentStatus.OPERATIONAL):
    return Component.objects.create(name=name, created_at=created_at, status=status)


def change(component, at, old, new):
    ComponentChange.objects.create(component=component, at=at, old_status=old, new_status=new)


def outage(component, start, end, status=ComponentStatus.MAJOR):
    change(component, start, ComponentStatus.OPERATIONAL, status)
    change(component, end, status, ComponentStatus.OPERATIONAL)


def day_of(bar, day: date):
    return next(d for d in bar.days if d.date == day)


@pytest.mark.django_db
def test_three_hours_of_major_outage_make_a_day_87_5_percent():
    api = make()
    outage(api, datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 11, 20, 12, tzinfo=UTC))
    bar = uptime.bars([api], UTC_ZONE, NOW)[api.pk]
    day = day_of(bar, date(2026, 11, 20))
    assert day.uptime == pytest.approx(0.875)
    assert day.worst == ComponentStatus.MAJOR
    assert day.label == "20 Nov 2026: 87.50 % uptime, major outage"
    assert day_of(bar, date(2026, 11, 19)).uptime == 1
    assert day_of(bar, date(2026, 11, 19)).label == "19 Nov 2026: 100 % uptime"
    # 3 h down in 89.5 days (today runs until noon).
    assert bar.uptime == pytest.approx(1 - 3 / (89.5 * 24))
    assert bar.percent == "99.86"


@pytest.mark.django_db
def test_partial_outage_weighs_30_percent_and_degraded_or_maintenance_nothing():
    api = make()
    outage(api, datetime(2026, 11, 10, 0, tzinfo=UTC), datetime(2026, 11, 10, 4, tzinfo=UTC),
           ComponentStatus.PARTIAL)
    outage(api, datetime(2026, 11, 11, 0, tzinfo=UTC), datetime(2026, 11, 11, 20, tzinfo=UTC),
           ComponentStatus.DEGRADED)
    outage(api, datetime(2026, 11, 12, 1, tzinfo=UTC), datetime(2026, 11, 12, 5, tzinfo=UTC),
           ComponentStatus.MAINTENANCE)
    bar = uptime.bars([api], UTC_ZONE, NOW)[api.pk]
    assert day_of(bar, date(2026, 11, 10)).uptime == pytest.approx(1 - 4 * 0.3 / 24)  # 95 %
    assert day_of(bar, date(2026, 11, 10)).percent == "95.00"
    degraded = day_of(bar, date(2026, 11, 11))
    assert (degraded.uptime, degraded.worst) == (1, ComponentStatus.DEGRADED)
    assert degraded.label == "11 Nov 2026: 100 % uptime, degraded performance"
    assert day_of(bar, date(2026, 11, 12)).worst == ComponentStatus.MAINTENANCE


@pytest.mark.django_db
def test_outage_across_midnight_counts_on_both_days_of_the_pages_zone():
    api = make()
    # 22:00 to 02:00 in Paris (CET, UTC+1): two hours on each local day.
    outage(api, datetime(2026, 11, 20, 21, tzinfo=UTC), datetime(2026, 11, 21, 1, tzinfo=UTC))
    bar = uptime.bars([api], PARIS, NOW)[api.pk]
    assert day_of(bar, date(2026, 11, 20)).uptime == pytest.approx(1 - 2 / 24)
    assert day_of(bar, date(2026, 11, 21)).uptime == pytest.approx(1 - 2 / 24)
    # The same outage seen in UTC falls on the 20th and the 21st differently.
    utc_bar = uptime.bars([api], UTC_ZONE, NOW)[api.pk]
    assert day_of(utc_bar, date(2026, 11, 20)).uptime == pytest.approx(1 - 3 / 24)
    assert day_of(utc_bar, date(2026, 11, 21)).uptime == pytest.approx(1 - 1 / 24)


@pytest.mark.django_db
def test_a_dst_day_has_23_hours():
    api = make()
    # Paris moves to summer time on 29 March 2026: that day has 23 hours.
    outage(api, datetime(2026, 3, 29, 10, tzinfo=UTC), datetime(2026, 3, 29, 11, tzinfo=UTC))
    now = datetime(2026, 4, 10, 12, tzinfo=UTC)
    bar = uptime.bars([api], PARIS, now)[api.pk]
    assert day_of(bar, date(2026, 3, 29)).uptime == pytest.approx(1 - 1 / 23)


@pytest.mark.django_db
def test_status_at_the_windows_start_comes_from_the_last_change_before_it():
    api = make()
    window_start = datetime(2026, 9, 2, tzinfo=UTC)  # 90 days back from 30 Nov, inclusive
    change(api, window_start - timedelta(days=5), ComponentStatus.OPERATIONAL,
           ComponentStatus.MAJOR)
    change(api, window_start + timedelta(hours=6), ComponentStatus.MAJOR,
           ComponentStatus.OPERATIONAL)
    bar = uptime.bars([api], UTC_ZONE, NOW)[api.pk]
    assert bar.days[0].date == date(2026, 9, 2)
    assert len(bar.days) == 90
    assert bar.days[0].uptime == pytest.approx(0.75)
    assert bar.days[1].uptime == 1


@pytest.mark.django_db
def test_a_component_down_since_before_the_window_with_no_change_in_it_is_down_all_along():
    api = make(status=ComponentStatus.MAJOR)
    change(api, datetime(2026, 8, 1, tzinfo=UTC), ComponentStatus.OPERATIONAL,
           ComponentStatus.MAJOR)
    bar = uptime.bars([api], UTC_ZONE, NOW)[api.pk]
    assert {d.uptime for d in bar.days} == {0}
    assert bar.percent == "0.00"


@pytest.mark.django_db
def test_days_before_a_component_existed_have_no_data():
    api = make(created_at=datetime(2026, 11, 28, 18, tzinfo=UTC))
    outage(api, datetime(2026, 11, 28, 21, tzinfo=UTC), datetime(2026, 11, 28, 22, tzinfo=UTC))
    bar = uptime.bars([api], UTC_ZONE, NOW)[api.pk]
    assert day_of(bar, date(2026, 11, 27)).uptime is None
    assert day_of(bar, date(2026, 11, 27)).label == "27 Nov 2026: no data"
    # It existed 6 hours of the 28th, one of them down.
    assert day_of(bar, date(2026, 11, 28)).uptime == pytest.approx(5 / 6)
    # Over its life: 6 h + 24 h + 12 h, one hour down.
    assert bar.uptime == pytest.approx(1 - 1 / 42)
    never = uptime.bars([make("New", created_at=NOW + timedelta(hours=1))], UTC_ZONE, NOW)
    assert next(iter(never.values())).percent == "–"


@pytest.mark.django_db
def test_queries_do_not_grow_with_components(django_assert_num_queries):
    few = [make(f"C{i}") for i in range(2)]
    many = few + [make(f"D{i}") for i in range(6)]
    for component in many:
        outage(component, datetime(2026, 11, 20, 9, tzinfo=UTC),
               datetime(2026, 11, 20, 10, tzinfo=UTC))
    with django_assert_num_queries(2):
        uptime.bars(few, UTC_ZONE, NOW)
    with django_assert_num_queries(2):
        bars = uptime.bars(many, UTC_ZONE, NOW)
    assert {round(b.uptime, 6) for b in bars.values()} == {round(1 - 1 / (89.5 * 24), 6)}


def test_percent_never_rounds_downtime_up_to_100():
    assert uptime.percent(0.99999) == "99.99"
    assert uptime.percent(0.9995) == "99.95"
    assert uptime.percent(1.0) == "100"
    assert uptime.percent(None) == "–"
