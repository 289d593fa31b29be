"""Overrides, swaps and layers out of the accepted time range (config.timerange) are refused
with the field named. Without the rule, year 1 or 9999 was stored or overflowed in
oncall.rotation (500 on the form and on every later schedule page), on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from oncall import services
from oncall.models import Layer, Override, Swap
from tests.conftest import make_team, make_user
from tests.oncall.conftest import add_layer, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(responder):
    ann = make_user("ann", "Responders")
    schedule = make_schedule(team=make_team("Checkout", ann, responder))
    add_layer(schedule, ann, responder, unit="days", start=date(2026, 1, 1))
    return schedule


@pytest.mark.parametrize("start, end, field", [
    ("0001-01-01T00:00", "0001-01-02T00:00", "between 1970-01-01 and 2200-01-01"),
    ("9999-12-30T00:00", "9999-12-31T23:59", "between 1970-01-01 and 2200-01-01"),
])
def test_override_form_out_of_range_is_a_field_error(client, schedule, responder, start, end,
                                                     field):
    client.force_login(responder)
    response = client.post(reverse("oncall:override-create", args=[schedule.pk]),
                           {"user": "ann", "start": start, "end": end})
    assert response.status_code == 400
    assert field in response.content.decode()
    assert Override.objects.count() == 0
    assert client.get(reverse("oncall:schedule", args=[schedule.pk])).status_code == 200


def test_swap_form_out_of_range_is_a_field_error(client, schedule, responder):
    client.force_login(responder)
    response = client.post(reverse("oncall:swap-offer", args=[schedule.pk]),
                           {"start": "9999-12-30T00:00", "end": "9999-12-31T00:00"})
    assert response.status_code == 400
    assert "between 1970-01-01 and 2200-01-01" in response.content.decode()
    assert Swap.objects.count() == 0


@pytest.mark.parametrize("year", [1, 9999])
def test_services_refuse_periods_out_of_range(schedule, responder, year):
    start, end = datetime(year, 1, 2, tzinfo=UTC), datetime(year, 1, 3, tzinfo=UTC)
    with pytest.raises(ValidationError) as error:
        services.create_override(schedule, user=responder, start=start, end=end)
    assert set(error.value.message_dict) == {"start", "end"}
    with pytest.raises(ValidationError):
        services.offer_swap(schedule, by=responder, start=start, end=end)
    assert Override.objects.count() == 0 and Swap.objects.count() == 0


def test_layer_start_out_of_range_is_refused(schedule):
    layer = Layer(schedule=schedule, name="Old", rank=5, start_date=date(1, 1, 1),
                  handoff_time=datetime(2026, 1, 1).time())
    with pytest.raises(ValidationError) as error:
        layer.full_clean()
    assert "start_date" in error.value.message_dict
