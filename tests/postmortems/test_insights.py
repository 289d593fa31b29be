"""The insights page on a known data set whose figures are worked out by hand in the comments.

The range is 2 to 29 March 2026: four ISO weeks (W10 from Mon 2 Mar, W11 from 9 Mar, W12 from
16 Mar, W13 from 23 Mar). Working hours are checked in America/New_York, whose clocks went
forward on Sunday 8 March 2026 (EST, UTC−5, before; EDT, UTC−4, after), so the same UTC time of
day falls on either side of 9:00 or 7:00 depending on the week.
"""

import csv
import hashlib
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comms.models import SlaClock
from incidents.models import (
    Alert,
    CustomerTier,
    Incident,
    Integration,
    Page,
    PagePurpose,
    Service,
    Status,
)
from postmortems.insights import figures, views
from postmortems.insights.figures import Filters
from postmortems.models import ActionItem, ItemStatus, Postmortem
from tests.conftest import make_team, make_user

MARCH = Filters(date(2026, 3, 2), date(2026, 3, 29))
TODAY = date(2026, 3, 25)
NEW_YORK = {"RELAY_WORKING_HOURS_TZ": "America/New_York", "RELAY_WORKING_HOURS": (9, 18),
            "RELAY_SLEEP_HOURS": (22, 7)}


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def incident(title, severity, start, *, ack=None, resolved=None, status=Status.RESOLVED,
             services=(), restricted=False):
    """An incident with its milestones as minutes after its start."""
    row = Incident.objects.create(
        title=title, severity=severity, status=status, restricted=restricted, started_at=start,
        detected_at=start,
        acknowledged_at=start + timedelta(minutes=ack) if ack is not None else None,
        resolved_at=start + timedelta(minutes=resolved) if resolved is not None else None)
    row.services.set(services)
    return row


def page(incident, user, created_at, purpose=PagePurpose.PAGE):
    return Page.objects.create(incident=incident, purpose=purpose, step=0, round=0, user=user,
                               channel="email", address=f"{user.username}@example.test",
                               created_at=created_at)


def alert(integration, incident, count, first_seen):
    return Alert.objects.create(integration=integration, service=integration.service,
                                incident=incident, dedup_key=f"key-{Alert.objects.count()}",
                                summary="CPU high", count=count, first_seen=first_seen,
                                last_seen=first_seen, status="resolved")


def integration(service, name):
    return Integration.objects.create(service=service, name=name, format="generic",
                                      key_hash=hashlib.sha256(name.encode()).hexdigest(),
                                      key_prefix=name[:8])


def item(incident, status, due, created, owner=None):
    postmortem, _ = Postmortem.objects.get_or_create(incident=incident)
    return ActionItem.objects.create(postmortem=postmortem, incident=incident, title="Fix it",
                                     status=status, due_on=due, created_at=created, owner=owner)


@pytest.fixture
def people(db):
    return {"commander": make_user("commander", "Responders"),
            "responder": make_user("responder", "Responders"),
            "auditor": make_user("auditor", "Auditors")}


@pytest.fixture
def data(people):
    """The known data set (times UTC)."""
    payments, identity = make_team("Payments"), make_team("Identity")
    checkout = Service.objects.create(name="Checkout API", slug="checkout", team=payments)
    auth = Service.objects.create(name="Auth", slug="auth", team=identity)
    inc = {
        # W10. MTTA 4, 10, 2, 20 min; MTTR 60, 120, 30 min (D still open).
        "A": incident("A", "P1", at(2, 10), ack=4, resolved=60, services=[checkout]),
        "B": incident("B", "P2", at(3, 10), ack=10, resolved=120, services=[checkout]),
        "C": incident("C", "P3", at(4, 10), ack=2, resolved=30, services=[auth]),
        "D": incident("D", "P3", at(5, 10), ack=20, status=Status.INVESTIGATING,
                      services=[auth]),
        # Declined and merged: never counted as incidents.
        "E": incident("E", "P4", at(6, 10), ack=1, status=Status.DECLINED, services=[auth]),
        "H": incident("H", "P1", at(11, 10), ack=1, resolved=2, status=Status.MERGED,
                      services=[checkout]),
        # W11. F is on both teams' services; G is restricted (the auditor sees it).
        "F": incident("F", "P2", at(9, 12), ack=6, resolved=45, services=[checkout, auth]),
        "G": incident("G", "P1", at(10, 12), ack=30, resolved=300, services=[checkout],
                      restricted=True),
        # W13, on the range's last minute of 29 March; no service.
        "I": incident("I", "P4", at(29, 23, 30), ack=1, status=Status.MONITORING),
        # Outside the range: the day before and the day after.
        "before": incident("before", "P1", at(1, 23, 59), ack=1, resolved=5,
                           services=[checkout]),
        "after": incident("after", "P1", at(30, 0), ack=1, resolved=5, services=[checkout]),
    }
    commander, responder = people["commander"], people["responder"]
    # Fri 6 Mar 13:30 UTC = 08:30 EST: outside working hours, not asleep.
    page(inc["A"], commander, at(6, 13, 30))
    # Mon 9 Mar 13:30 UTC = 09:30 EDT (clocks went forward on the 8th): working hours.
    page(inc["F"], commander, at(9, 13, 30))
    # Sat 7 Mar 03:30 UTC = Fri 22:30 EST: outside working hours and asleep.
    page(inc["C"], responder, at(7, 3, 30))
    # Tue 10 Mar 11:30 UTC = 07:30 EDT: outside working hours, awake (sleep ends at 7:00).
    page(inc["F"], responder, at(10, 11, 30))
    # Tue 3 Mar 11:30 UTC = 06:30 EST: outside working hours and asleep.
    page(inc["B"], responder, at(3, 11, 30))
    # Wed 11 Mar 04:00 UTC = 00:00 EDT, of the restricted G: only the auditor counts it.
    page(inc["G"], commander, at(11, 4))
    # Not counted: a notice, and a page after the range.
    page(inc["A"], commander, at(6, 14), purpose=PagePurpose.NOTICE)
    page(inc["after"], commander, at(30, 1))

    prometheus, grafana = integration(checkout, "Prometheus"), integration(auth, "Grafana")
    alert(prometheus, inc["A"], 5, at(2, 9, 58))
    alert(prometheus, inc["B"], 3, at(3, 9, 58))
    alert(grafana, inc["C"], 10, at(4, 9, 58))
    alert(grafana, None, 1, at(12, 8))  # of no incident: everyone sees it
    alert(prometheus, inc["G"], 100, at(10, 11, 58))  # restricted G's
    alert(prometheus, inc["before"], 50, at(1, 23, 58))  # before the range

    # Items of A (Payments): done; open due the 19th (overdue on the 25th); open due in April.
    item(inc["A"], ItemStatus.DONE, date(2026, 3, 20), at(5, 12))
    item(inc["A"], ItemStatus.OPEN, date(2026, 3, 19), at(5, 12))
    item(inc["A"], ItemStatus.OPEN, date(2026, 4, 10), at(6, 12))
    # Items of C (Identity): accepted; in progress due the 24th (overdue).
    item(inc["C"], ItemStatus.ACCEPTED, date(2026, 3, 20), at(12, 12))
    item(inc["C"], ItemStatus.IN_PROGRESS, date(2026, 3, 24), at(12, 12))
    # Restricted G's (Payments): open, due 1 March (overdue).
    item(inc["G"], ItemStatus.OPEN, date(2026, 3, 1), at(12, 12))
    # Created before the range.
    item(inc["before"], ItemStatus.OPEN, date(2026, 3, 1), at(1, 23, 59, month=2))
    return {"incidents": inc, "payments": payments, "identity": identity, "checkout": checkout,
            "auth": auth}


# --- response times -------------------------------------------------------------------------------


def test_response_times_per_week_are_hand_computed(people, data):
    table = figures.response_times(people["responder"], MARCH)
    assert table.columns[0] == "Week"
    assert table.rows == [
        # W10: A, B, C, D. MTTA sorted 2, 4, 10, 20: median = 4 + 0.5 × (10 − 4) = 7; p90 at
        # 0.9 × 3 = 2.7 → 10 + 0.7 × (20 − 10) = 17. MTTR 30, 60, 120: median 60; p90 at
        # 0.9 × 2 = 1.8 → 60 + 0.8 × 60 = 108.
        ["2026-03-02", 4, 4, 7.0, 17.0, 3, 60.0, 108.0],
        # W11: F only (G is restricted, H merged).
        ["2026-03-09", 1, 1, 6.0, 6.0, 1, 45.0, 45.0],
        ["2026-03-16", 0, 0, None, None, 0, None, None],
        # W13: I, started 29 Mar 23:30 (the range's last day), acknowledged, not resolved.
        ["2026-03-23", 1, 1, 1.0, 1.0, 0, None, None],
    ]


def test_restricted_incident_counts_for_the_auditor(people, data):
    week = figures.response_times(people["auditor"], MARCH).rows[1]
    # W11: F and G. MTTA 6, 30: median 18; p90 = 6 + 0.9 × 24 = 27.6. MTTR 45, 300: median
    # 172.5; p90 = 45 + 0.9 × 255 = 274.5.
    assert week == ["2026-03-09", 2, 2, 18.0, 27.6, 2, 172.5, 274.5]


def test_team_filter_keeps_the_incidents_on_its_services(people, data):
    identity = Filters(MARCH.start, MARCH.end, data["identity"])
    rows = figures.response_times(people["responder"], identity).rows
    # W10: C and D. MTTA 2, 20: median 11; p90 = 2 + 0.9 × 18 = 18.2. MTTR: C's 30.
    assert rows[0] == ["2026-03-02", 2, 2, 11.0, 18.2, 1, 30.0, 30.0]
    # W11: F (on Auth too). W13: I has no service.
    assert rows[1][1:3] == [1, 1]
    assert rows[3][1] == 0


def test_percentile_interpolates_like_percentile_cont():
    assert figures.percentile([], 0.5) is None
    assert figures.percentile([5.0], 0.9) == 5.0
    assert figures.percentile([20.0, 2.0, 10.0, 4.0], 0.5) == 7.0
    assert figures.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.9) == pytest.approx(4.6)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont is PostgreSQL's")
@pytest.mark.django_db
def test_sql_and_python_percentiles_agree_to_the_last_bit():
    values = [0.5, 61.25, 3.0, 7200.000001, 59.999999, 1e-6, 86400.0, 333.3]
    sql = ", ".join(["(%s::double precision)"] * len(values))
    with connection.cursor() as cursor:
        for fraction in (0.5, 0.9, 0.25, 0.99):
            cursor.execute(f"SELECT percentile_cont({fraction!r}) WITHIN GROUP (ORDER BY v) "
                           f"FROM (VALUES {sql}) AS t(v)", values)
            assert cursor.fetchone()[0] == figures.percentile(values, fraction)


@pytest.mark.django_db
def test_both_response_paths_give_the_same_table(people, data):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL has both paths")
    incidents = figures.counted(people["auditor"], MARCH).annotate(
        week=figures.TruncWeek("started_at", tzinfo=UTC))
    assert figures._response_sql(incidents) == figures._response_python(incidents)


# --- incidents by severity, service and team -----------------------------------------------------


def test_incidents_by_severity_per_week(people, data):
    rows = figures.by_severity(people["responder"], MARCH).rows
    assert rows == [["2026-03-02", 1, 1, 2, 0, 4], ["2026-03-09", 0, 1, 0, 0, 1],
                    ["2026-03-16", 0, 0, 0, 0, 0], ["2026-03-23", 0, 0, 0, 1, 1]]
    auditor = figures.by_severity(people["auditor"], MARCH).rows
    assert auditor[1] == ["2026-03-09", 1, 1, 0, 0, 2]


def test_incidents_by_service_and_team(people, data):
    responder, auditor = people["responder"], people["auditor"]
    # Auth: C, D, F; Checkout API: A, B, F; I has none. Ties by name.
    assert figures.by_service(responder, MARCH).rows == [
        ["Auth", 3], ["Checkout API", 3], ["No service", 1]]
    assert figures.by_service(auditor, MARCH).rows[0] == ["Checkout API", 4]
    assert figures.by_team(responder, MARCH).rows == [
        ["Identity", 3], ["Payments", 3], ["No team", 1]]
    payments = Filters(MARCH.start, MARCH.end, data["payments"])
    # A, B, F; F also counts for Identity.
    assert figures.by_team(responder, payments).rows == [["Payments", 3], ["Identity", 1]]


# --- on-call load, alerts, action items ----------------------------------------------------------


def test_oncall_load_in_working_hours_time_zone_across_dst(people, data, settings):
    for name, value in NEW_YORK.items():
        setattr(settings, name, value)
    # responder: 3 pages, all outside working hours, 2 asleep (22:30 and 06:30 local).
    # commander: 08:30 EST outside, 09:30 EDT inside; G's is hidden.
    assert figures.oncall_load(people["responder"], MARCH).rows == [
        ["responder", 3, 3, 2], ["commander", 2, 1, 0]]
    # The auditor also counts G's page at 00:00 EDT: outside working hours and asleep.
    assert figures.oncall_load(people["auditor"], MARCH).rows == [
        ["commander", 3, 2, 1], ["responder", 3, 3, 2]]


def test_oncall_hours_follow_the_configured_time_zone(people, data, settings):
    settings.RELAY_WORKING_HOURS_TZ = "UTC"
    # In UTC: 13:30 Fri and 13:30 Mon are working hours; 03:30 Sat, 11:30 Tue, 11:30 Tue:
    # outside only the Saturday one; asleep only 03:30.
    assert figures.oncall_load(people["responder"], MARCH).rows == [
        ["responder", 3, 1, 1], ["commander", 2, 0, 0]]


def test_noisiest_sources_and_services(people, data):
    responder = people["responder"]
    # Grafana: 10 + 1 events in 2 alerts; Prometheus: 5 + 3 (G's 100 hidden, 50 before range).
    assert figures.alert_sources(responder, MARCH).rows == [
        ["Grafana", "Auth", 2, 11], ["Prometheus", "Checkout API", 2, 8]]
    assert figures.alert_services(responder, MARCH).rows == [
        ["Auth", 2, 11], ["Checkout API", 2, 8]]
    assert figures.alert_services(people["auditor"], MARCH).rows[0] == ["Checkout API", 3, 108]
    identity = Filters(MARCH.start, MARCH.end, data["identity"])
    assert figures.alert_services(responder, identity).rows == [["Auth", 2, 11]]


def test_action_items_overall_and_per_team(people, data):
    rows = figures.action_items(people["responder"], MARCH, TODAY).rows
    # 5 visible items in range: done 1, accepted 1, open 3 (two overdue on the 25th):
    # completed (done or accepted) 2 of 5 = 40 %.
    assert rows == [["All teams", 5, 1, 1, 3, 2, 40.0],
                    ["Payments", 3, 1, 0, 2, 1, 33.3],
                    ["Identity", 2, 0, 1, 1, 1, 50.0]]
    auditor = figures.action_items(people["auditor"], MARCH, TODAY).rows
    assert auditor[0] == ["All teams", 6, 1, 1, 4, 3, 33.3]
    assert auditor[1] == ["Payments", 4, 1, 0, 3, 2, 25.0]


def test_sla_compliance_reuses_the_sla_report(people, data):
    tier = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    for state, key in (("met", "a"), ("breached", "b"), ("running", "c")):
        SlaClock.objects.create(incident=data["incidents"]["A"], kind="response",
                                key=f"tier:{key}", tier=tier, severity="P1", source="tier",
                                target_minutes=30, state=state, started_at=at(2, 10))
    tables = figures.sla(people["responder"], MARCH)
    assert tables["tiers"].rows == [["Enterprise", 3, 1, 1, 1, 50.0]]
    assert tables["customers"].rows == []


def test_sla_compliance_follows_the_team_and_visibility(people, data):
    tier = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    # A (Checkout, Payments) met; C (Auth, Identity) breached; G (restricted, Payments) met.
    for name, state in (("A", "met"), ("C", "breached"), ("G", "met")):
        SlaClock.objects.create(incident=data["incidents"][name], kind="response",
                                key="tier:x", tier=tier, severity="P1", source="tier",
                                target_minutes=30, state=state, started_at=at(10, 10))
    payments = Filters(MARCH.start, MARCH.end, data["payments"])
    identity = Filters(MARCH.start, MARCH.end, data["identity"])
    assert figures.sla(people["responder"], payments)["tiers"].rows == [
        ["Enterprise", 1, 1, 0, 0, 100.0]]  # G is hidden from the responder
    assert figures.sla(people["auditor"], payments)["tiers"].rows == [
        ["Enterprise", 2, 2, 0, 0, 100.0]]
    assert figures.sla(people["responder"], identity)["tiers"].rows == [
        ["Enterprise", 1, 0, 1, 0, 0.0]]


# --- the page ------------------------------------------------------------------------------------


@pytest.fixture
def march(monkeypatch):
    monkeypatch.setattr(views, "_today", lambda: TODAY)
    return {"start": "2026-03-02", "end": "2026-03-29"}


def test_page_shows_every_chart_with_its_numbers_and_csv_link(client, people, data, march):
    client.force_login(people["responder"])
    response = client.get(reverse("insights:index"), march)
    assert response.status_code == 200
    html = response.content.decode()
    assert "6 incidents started 2 Mar 2026 – 29 Mar 2026" in html
    for slug in views.FIGURES:
        assert f'id="figure-{slug}"' in html
        assert f"/insights/{slug}.csv?start=2026-03-02&amp;end=2026-03-29" in html
    assert html.count('role="img"') == len(views.FIGURES) + 1  # MTTA and MTTR are two charts
    assert "<th scope=\"row\">2026-03-02</th><td>4</td><td>4</td><td>7.0</td><td>17.0</td>" in html
    assert "Grafana" in html and "Suspicious" not in html
    assert "percentile_cont" in html  # the footnote names the method


def test_page_defaults_to_the_last_90_days(client, people, march):
    client.force_login(people["responder"])
    response = client.get(reverse("insights:index"))
    assert response.status_code == 200
    # 25 Mar 2026 and the 89 days before it (25 in March, 28 in February, 31 in January, 6).
    assert "started 26 Dec 2025 – 25 Mar 2026" in response.content.decode()
    assert 'value="2025-12-26"' in response.content.decode()


def test_team_filter_on_the_page(client, people, data, march):
    client.force_login(people["responder"])
    response = client.get(reverse("insights:index"), {**march, "team": data["identity"].pk})
    html = response.content.decode()
    # C, D and F (E was declined; I has no service).
    assert "3 incidents started 2 Mar 2026 – 29 Mar 2026 (UTC days) on services of Identity" \
        in html
    assert f"team={data['identity'].pk}" in html


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"start": "2026-02-30"}, "start", "Enter a valid date."),
    ({"start": "yesterday"}, "start", "Enter a valid date."),
    ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "The end is before the start."),
    ({"start": "2020-01-01", "end": "2026-03-01"}, "start", "at most 731 days"),
    ({"start": "0001-01-01"}, "start", "Must be between 1970-01-01"),
    ({"team": "99999999999999999999999999"}, "team", "Select a valid choice"),
    ({"team": "abc"}, "team", "Select a valid choice"),
])
def test_bad_filters_are_a_400_beside_the_field(client, people, march, params, field, message):
    client.force_login(people["responder"])
    response = client.get(reverse("insights:index"), params)
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert 'id="figure-' not in response.content.decode()
    csv_response = client.get(reverse("insights:export", args=["severity"]), params)
    assert csv_response.status_code == 400
    assert field in csv_response.content.decode()


def test_page_needs_a_role(client, people, db):
    assert client.get(reverse("insights:index")).status_code == 302  # to the login page
    client.force_login(make_user("outsider"))
    assert client.get(reverse("insights:index")).status_code == 403
    assert client.get(reverse("insights:export", args=["severity"])).status_code == 403


def test_page_answers_get_only(client, people):
    client.force_login(people["responder"])
    assert client.post(reverse("insights:index")).status_code == 405
    assert client.post(reverse("insights:export", args=["severity"])).status_code == 405


# --- CSV -----------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_of_a_chart(client, people, data, march):
    client.force_login(people["responder"])
    response = client.get(reverse("insights:export", args=["response-times"]), march)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == \
        'attachment; filename="relay-response-times-20260302-20260329.csv"'
    assert read_csv(response) == [
        ["Week", "Incidents", "Acknowledged", "MTTA median (min)", "MTTA p90 (min)", "Resolved",
         "MTTR median (min)", "MTTR p90 (min)"],
        ["2026-03-02", "4", "4", "7.0", "17.0", "3", "60.0", "108.0"],
        ["2026-03-09", "1", "1", "6.0", "6.0", "1", "45.0", "45.0"],
        ["2026-03-16", "0", "0", "", "", "0", "", ""],
        ["2026-03-23", "1", "1", "1.0", "1.0", "0", "", ""],
    ]


def test_every_chart_has_a_csv_with_the_same_filters(client, people, data, march):
    client.force_login(people["auditor"])
    for slug in views.FIGURES:
        response = client.get(reverse("insights:export", args=[slug]),
                              {**march, "team": data["payments"].pk})
        assert response.status_code == 200, slug
        rows = read_csv(response)
        assert rows[0] == views.FIGURES[slug].compute(
            people["auditor"], MARCH, TODAY, {}).columns
    sources = read_csv(client.get(reverse("insights:export", args=["alert-services"]),
                                  {**march, "team": data["payments"].pk}))
    assert sources[1:] == [["Checkout API", "3", "108"]]


def test_csv_hides_restricted_incidents_from_a_responder(client, people, data, march,
                                                        settings):
    for name, value in NEW_YORK.items():
        setattr(settings, name, value)
    client.force_login(people["responder"])
    rows = read_csv(client.get(reverse("insights:export", args=["oncall"]), march))
    assert rows[1:] == [["responder", "3", "3", "2"], ["commander", "2", "1", "0"]]
    assert ["Checkout API", "3", "108"] not in read_csv(
        client.get(reverse("insights:export", args=["alert-services"]), march))


def test_csv_cells_that_look_like_formulas_are_defused(client, people, data, march):
    data["checkout"].name = '=HYPERLINK("http://evil.example","x")'
    data["checkout"].save()
    data["auth"].name = "@SUM(A1)"
    data["auth"].save()
    client.force_login(people["responder"])
    rows = read_csv(client.get(reverse("insights:export", args=["services"]), march))
    assert ["'@SUM(A1)", "3"] in rows
    assert ["'=HYPERLINK(\"http://evil.example\",\"x\")", "3"] in rows
    assert views.cell("-1+2") == "'-1+2" and views.cell("+1") == "'+1"
    assert views.cell(-3) == -3 and views.cell(None) == "" and views.cell("a=b") == "a=b"


def test_unknown_chart_is_a_404(client, people):
    client.force_login(people["responder"])
    assert client.get("/insights/nothing.csv").status_code == 404


def test_labels_are_escaped_on_the_page(client, people, data, march):
    data["auth"].name = "<script>alert(1)</script>"
    data["auth"].save()
    client.force_login(people["responder"])
    html = client.get(reverse("insights:index"), march).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- queries -------------------------------------------------------------------------------------


def more_data(data, people, copies: int) -> None:
    """More of everything: incidents each week, services, teams, people, pages, alerts, items."""
    for n in range(copies):
        team = make_team(f"Team {n}")
        service = Service.objects.create(name=f"Service {n}", slug=f"service-{n}", team=team)
        source = integration(service, f"Source {n}")
        person = make_user(f"oncall{n}", "Responders")
        for week in range(4):
            row = incident(f"X{n}-{week}", ["P1", "P2", "P3", "P4"][week],
                           at(2 + 7 * week, 8 + n % 10), ack=n + 1, resolved=10 * n + 30,
                           services=[service, data["checkout"]], restricted=week == 3)
            page(row, person, at(2 + 7 * week, 2 + n % 20))
            alert(source, row, n + 1, at(2 + 7 * week, 7))
            item(row, ItemStatus.OPEN, date(2026, 3, 10), at(3 + 7 * week, 1))


def test_queries_do_not_grow_with_rows(client, people, data, march):
    client.force_login(people["responder"])
    url = reverse("insights:index")
    client.get(url, march)  # warm the permission caches of this process

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, {**march, "team": data["payments"].pk}).status_code == 200
        return len(queries)

    small = count()
    more_data(data, people, 15)
    assert count() == small
    assert small <= 18, small  # session, user, permissions, team, and one or two per figure


def test_csv_queries_do_not_grow_with_rows(client, people, data, march,
                                           django_assert_max_num_queries):
    client.force_login(people["responder"])
    more_data(data, people, 10)
    for slug in views.FIGURES:
        with django_assert_max_num_queries(8):
            client.get(reverse("insights:export", args=[slug]), march)


def test_a_restricted_incident_granted_to_a_responder_counts_for_them(people, data, settings):
    from incidents.permissions import grant_view

    settings.RELAY_WORKING_HOURS_TZ = "America/New_York"
    responder = people["responder"]
    grant_view(data["incidents"]["G"], user=responder)
    # G's page, its 100-event alert and its overdue item now count, as for the auditor.
    assert figures.oncall_load(responder, MARCH).rows[0] == ["commander", 3, 2, 1]
    assert figures.alert_services(responder, MARCH).rows[0] == ["Checkout API", 3, 108]
    assert figures.action_items(responder, MARCH, TODAY).rows[0] == \
        ["All teams", 6, 1, 1, 4, 3, 33.3]
    assert figures.response_times(responder, MARCH).rows[1][1] == 2
