"""The SLA page (open clocks, compliance) and the SLA settings for admins."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from comms.models import BusinessCalendar, ClockState, SlaClock, SlaTarget, TierPolicy
from incidents import services as incident_services
from tests.comms.sla.conftest import affect, make_customer
from tests.conftest import declare

pytestmark = pytest.mark.django_db


def test_open_clocks_least_time_left_first_and_restricted_hidden(
        client, responder, commander, enterprise):
    later = declare(by=commander, customer_tiers=[enterprise], severity="P3", title="Later one")
    sooner = declare(by=commander, customer_tiers=[enterprise], severity="P1", title="Sooner one")
    declare(by=commander, customer_tiers=[enterprise], restricted=True, title="Secret one")
    client.force_login(responder)
    html = client.get(reverse("sla:index")).content.decode()
    section = html[html.index('id="open-clocks"'):]
    assert section.index("Sooner one") < section.index("Later one")
    assert "Secret one" not in html
    assert later and sooner


def test_compliance_per_tier_and_customer_counts_only_visible(
        client, responder, auditor, commander, enterprise, csm):
    acme = make_customer("Acme", enterprise, csm)
    met = declare(by=commander, customer_tiers=[enterprise], title="met")
    affect(met, acme)
    incident_services.acknowledge(met, by=commander)  # response met
    hidden = declare(by=commander, customer_tiers=[enterprise], restricted=True)
    SlaClock.objects.filter(incident=hidden).update(state=ClockState.BREACHED,
                                                    breached_at=timezone.now())
    client.force_login(responder)
    html = client.get(reverse("sla:index")).content.decode()
    tiers = html[html.index('id="compliance-tiers"'):html.index('id="compliance-customers"')]
    # Responder: Acme's two clocks (response met, resolution open); the hidden ones don't count.
    assert "<td>Enterprise</td><td>2</td><td>1</td><td>0</td><td>1</td><td>100 %</td>" in tiers
    customers = html[html.index('id="compliance-customers"'):]
    assert "<td>Acme</td><td>2</td><td>1</td><td>0</td><td>1</td>" in customers
    client.force_login(auditor)  # sees every restricted incident
    html = client.get(reverse("sla:index")).content.decode()
    assert "<td>Enterprise</td><td>4</td><td>1</td><td>2</td><td>1</td><td>33.3 %</td>" in html


def test_period_outside_excludes_clocks_and_bad_period_is_a_form_error(
        client, responder, commander, enterprise):
    declare(by=commander, customer_tiers=[enterprise])
    client.force_login(responder)
    old = (timezone.now() - timedelta(days=90)).date()
    html = client.get(reverse("sla:index"), {"start": old, "end": old}).content.decode()
    assert "No clocks in this period." in html
    response = client.get(reverse("sla:index"), {"start": "2026-05-02", "end": "2026-05-01"})
    assert response.status_code == 400 and "The end is before the start." in \
        response.content.decode()


def test_outsider_gets_403_and_nav_links_the_page(client, outsider, responder):
    client.force_login(outsider)
    assert client.get(reverse("sla:index")).status_code == 403
    client.force_login(responder)
    assert f'href="{reverse("sla:index")}"' in client.get("/").content.decode()


def test_sla_page_queries_are_constant(client, responder, commander, enterprise,
                                       django_assert_max_num_queries):
    for i in range(12):
        declare(by=commander, customer_tiers=[enterprise], title=f"i{i}")
    client.force_login(responder)
    with django_assert_max_num_queries(10):
        html = client.get(reverse("sla:index")).content.decode()
    assert html.count("data-sla-clock=") == 24


def test_admin_edits_tier_policy_and_targets(client, admin_user, enterprise):
    calendar = BusinessCalendar.objects.create(name="Berlin", time_zone="Europe/Berlin",
                                               start="09:00", end="17:00")
    client.force_login(admin_user)
    assert "Enterprise" in client.get(reverse("sla:settings")).content.decode()
    data = {"calendar": calendar.pk, "amber_percent_left": 40, "red_percent_left": 10,
            "suggested_severity": "P2", "message_approval": "on"}
    for severity in ("P1", "P2", "P3", "P4"):
        data |= {f"{severity}_response_minutes": 20, f"{severity}_response_on": "message",
                 f"{severity}_resolution_minutes": ""}
    response = client.post(reverse("sla:tier", args=["enterprise"]), data)
    assert response.status_code == 302
    policy = TierPolicy.objects.get(tier=enterprise)
    assert (policy.calendar, policy.amber_percent_left, policy.message_approval) == (
        calendar, 40, True)
    target = SlaTarget.objects.get(tier=enterprise, severity="P1")
    assert (target.response_minutes, target.response_on, target.resolution_minutes) == (
        20, "message", None)
    data["red_percent_left"] = 60
    response = client.post(reverse("sla:tier", args=["enterprise"]), data)
    assert response.status_code == 400
    assert "The red share is below the amber share." in response.content.decode()


def test_admin_creates_calendar_with_holidays_and_bad_lines_are_errors(client, admin_user):
    client.force_login(admin_user)
    data = {"name": "Berlin office", "time_zone": "Europe/Berlin", "weekdays": [0, 1, 2, 3, 4],
            "start": "09:00", "end": "17:00", "holidays": "2026-12-24 Christmas Eve\n2026-12-31"}
    assert client.post(reverse("sla:calendar-new"), data).status_code == 302
    calendar = BusinessCalendar.objects.get()
    assert [(str(h.date), h.name) for h in calendar.holidays.all()] == [
        ("2026-12-24", "Christmas Eve"), ("2026-12-31", "")]
    response = client.post(reverse("sla:calendar", args=[calendar.pk]),
                           data | {"holidays": "24.12.2026 Xmas", "end": "08:00",
                                   "time_zone": "Mars/Olympus"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "is not a date such as 2026-12-24" in html
    assert calendar.holidays.count() == 2


def test_settings_are_for_admins_only(client, csm, responder):
    for user in (csm, responder):
        client.force_login(user)
        assert client.get(reverse("sla:settings")).status_code == 403
        assert client.post(reverse("sla:calendar-new"), {"name": "x"}).status_code == 403


def test_calendar_hours_and_zone_errors_sit_beside_their_fields(client, admin_user):
    client.force_login(admin_user)
    data = {"name": "Berlin office", "time_zone": "Europe/Berlin", "weekdays": [0],
            "start": "09:00", "end": "08:00", "holidays": ""}
    html = client.post(reverse("sla:calendar-new"), data).content.decode()
    assert "Working hours end after they start." in html
    html = client.post(reverse("sla:calendar-new"), data | {
        "end": "17:00", "time_zone": "Mars/Olympus"}).content.decode()
    assert "is not a time zone name" in html
    assert not BusinessCalendar.objects.exists()


def test_the_admin_shows_sla_settings_but_changes_them_only_through_the_portal(
        client, admin_user, enterprise):
    """One path for every configuration write: the portal's settings call the services."""
    target = SlaTarget.objects.filter(tier=enterprise).first()
    client.force_login(admin_user)
    page = client.get(reverse("admin:comms_slatarget_change", args=[target.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    before = (target.response_minutes, target.resolution_minutes)
    refused = client.post(reverse("admin:comms_slatarget_change", args=[target.pk]), {
        "tier": enterprise.pk, "severity": target.severity, "response_minutes": 1,
        "response_on": "acknowledged", "resolution_minutes": 2})
    assert refused.status_code == 403
    target.refresh_from_db()
    assert (target.response_minutes, target.resolution_minutes) == before
    assert client.get(reverse("admin:comms_tierpolicy_add")).status_code == 403
    assert client.get(reverse("admin:comms_businesscalendar_add")).status_code == 403
