"""SLA time left on the dashboard (with its sort) and on My on-call."""

from datetime import time, timedelta

import pytest
from django.urls import reverse

from comms.models import BusinessCalendar, Holiday, SlaClock
from incidents import services as incident_services
from tests.comms.sla.conftest import give_targets
from tests.conftest import declare

pytestmark = pytest.mark.django_db


def rows(html):
    return [line for line in html.split("<tr") if "incidents:detail" not in line][1:]


def test_dashboard_shows_the_most_urgent_clock(client, responder, commander, enterprise):
    incident = declare(by=commander, customer_tiers=[enterprise], severity="P1")
    client.force_login(responder)
    html = client.get("/").content.decode()
    assert "<th>SLA</th>" in html
    assert "left of 15m" in html  # response (15m) is more urgent than resolution (4h)
    due = SlaClock.objects.get(incident=incident, kind="response").due_at.isoformat()
    assert f'data-sla-due="{due}"' in html


def test_dashboard_sorts_by_least_sla_time_left(client, responder, commander, enterprise):
    slow = declare(by=commander, customer_tiers=[enterprise], severity="P1", title="Later due")
    none = declare(by=commander, severity="P1", title="No SLA")
    fast = declare(by=commander, customer_tiers=[enterprise], severity="P2", title="Sooner due")
    SlaClock.objects.filter(incident=fast).update(due_at=slow.detected_at)  # due first
    client.force_login(responder)
    html = client.get("/?sort=sla").content.decode()
    order = [html.index(t) for t in ("Sooner due", "Later due", "No SLA")]
    assert order == sorted(order)
    assert 'value="sla" selected' in html
    # The default stays most urgent first (P1 before P2, older first).
    html = client.get("/").content.decode()
    assert html.index("Later due") < html.index("No SLA") < html.index("Sooner due")
    assert none and fast


def test_my_oncall_shows_time_left_for_my_incidents(client, commander, enterprise):
    declare(by=commander, commander=commander, customer_tiers=[enterprise], severity="P1",
            title="Mine with SLA")
    declare(by=None, customer_tiers=[enterprise], title="Not mine")
    client.force_login(commander)
    html = client.get(reverse("paging:my-oncall")).content.decode()
    section = html[html.index('id="my-incidents"'):]
    section = section[:section.index("</ul>")]
    assert "Mine with SLA" in section and "left of 15m" in section
    assert "Not mine" not in section


@pytest.mark.parametrize("n", [2, 15])
def test_dashboard_queries_stay_constant_with_calendar_clocks(
        client, responder, commander, enterprise, n, django_assert_max_num_queries):
    calendar = BusinessCalendar.objects.create(name="Berlin", time_zone="Europe/Berlin",
                                               weekdays=[0, 1, 2, 3, 4, 5, 6],
                                               start=time(0), end=time(23, 59))
    Holiday.objects.create(calendar=calendar, date=(commander.date_joined
                                                   + timedelta(days=400)).date())
    give_targets(enterprise, calendar=calendar)
    for i in range(n):
        incident = declare(by=commander, customer_tiers=[enterprise], title=f"cal {i}")
        incident_services.assign_roles(incident, by=commander, commander=commander)
    client.force_login(responder)
    with django_assert_max_num_queries(15):  # the list's 12, the clocks, the calendars (2)
        html = client.get("/?sort=sla").content.decode()
    assert html.count("left of 30m") == n
