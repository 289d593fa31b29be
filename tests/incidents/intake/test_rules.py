"""Severity, suppression and routing rules, time-of-day windows, and the preview."""

import json
from datetime import UTC, datetime, time

import pytest

from incidents.intake import rules
from incidents.models import Alert, AlertRule, AlertStatus, EntryKind, Incident, Service
from oncall.models import EscalationPolicy
from tests.incidents.conftest import vendor_request

pytestmark = pytest.mark.django_db


def send(client, key, **body):
    body.setdefault("summary", "Checkout 5xx above 5%")
    return client.post(f"/integrations/generic/{key}/", data=json.dumps(body),
                       content_type="application/json")


def rule(**fields) -> AlertRule:
    fields.setdefault("name", "rule")
    fields.setdefault("match_field", "summary")
    fields.setdefault("operator", "contains")
    return AlertRule.objects.create(**fields)


def test_severity_rule_by_keyword_sets_p1(client, generic_key):
    rule(name="db down is P1", value="database down", action="severity", severity="P1")
    send(client, generic_key, summary="Primary DATABASE DOWN in eu-1", severity="warning")
    assert Incident.objects.get().severity == "P1"
    entry = Incident.objects.get().timeline.get(kind=EntryKind.ALERT)
    assert entry.data["rules"] == ["db down is P1"]


def test_first_matching_severity_rule_wins_in_order(client, generic_key):
    rule(name="second", position=20, value="disk", action="severity", severity="P4")
    rule(name="first", position=10, value="disk", action="severity", severity="P2")
    send(client, generic_key, summary="disk almost full")
    assert Alert.objects.get().severity == "P2"


def test_severity_rule_by_label(client, alertmanager_key):
    rule(name="team payments", match_field="label", label="instance", operator="equals",
         value="db-1", action="severity", severity="P4")
    client.post(f"/integrations/alertmanager/{alertmanager_key}/",
                data=json.dumps(vendor_request("alertmanager-webhook-firing")["body"]),
                content_type="application/json")
    assert Alert.objects.get().severity == "P4"


def test_drop_rule_records_the_alert_without_incident(client, generic_key):
    rule(name="ignore canary", value="canary", action="drop")
    assert send(client, generic_key, summary="canary check failed").status_code == 202
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.SUPPRESSED
    assert alert.incident is None
    assert Incident.objects.count() == 0
    send(client, generic_key, summary="canary check failed")
    alert.refresh_from_db()
    assert alert.count == 2


def test_quiet_rule_opens_incident_without_paging(client, generic_key):
    rule(name="staging is quiet", match_field="source", value="staging", action="quiet")
    send(client, generic_key, source="staging-web-1")
    declared = Incident.objects.get().timeline.get(kind=EntryKind.DECLARED)
    assert declared.data["paging"] is False


def test_route_rule_by_time_of_day_picks_the_night_policy(client, service, generic_key,
                                                         monkeypatch):
    night = EscalationPolicy.objects.create(name="Night on-call")
    rule(name="nights", match_field="any", action="route", escalation_policy=night,
         start_time=time(22, 0), end_time=time(7, 0), time_zone="Europe/Paris")
    frozen = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 00:30 in Paris
    monkeypatch.setattr("incidents.intake.pipeline.timezone.now", lambda: frozen)
    send(client, generic_key)
    assert Incident.objects.get().escalation_policy == night


def test_route_rule_outside_its_hours_does_not_apply(client, generic_key, monkeypatch):
    night = EscalationPolicy.objects.create(name="Night on-call")
    rule(name="nights", match_field="any", action="route", escalation_policy=night,
         start_time=time(22, 0), end_time=time(7, 0))
    monkeypatch.setattr("incidents.intake.pipeline.timezone.now",
                        lambda: datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    send(client, generic_key)
    assert Incident.objects.get().escalation_policy is None


@pytest.mark.parametrize(("weekdays", "moment", "expected"), [
    ("01234", datetime(2026, 11, 23, 10, 0, tzinfo=UTC), True),   # Monday
    ("01234", datetime(2026, 11, 22, 10, 0, tzinfo=UTC), False),  # Sunday
    ("56", datetime(2026, 11, 22, 10, 0, tzinfo=UTC), True),
])
def test_weekday_windows(weekdays, moment, expected):
    candidate = AlertRule(match_field="any", weekdays=weekdays, action="severity", severity="P4")
    alert = Alert(summary="x", details={})
    assert rules.matches(candidate, alert, moment) is expected


def test_rule_for_another_service_does_not_apply(client, generic_key, team):
    other = Service.objects.create(name="Search", slug="search", team=team)
    rule(name="search only", service=other, value="5xx", action="severity", severity="P1")
    send(client, generic_key)
    assert Alert.objects.get().severity == "P3"


def test_preview_shows_which_recent_alerts_a_rule_would_match(client, responder, generic_key):
    send(client, generic_key, summary="database down on db-1", dedup_key="a")
    send(client, generic_key, summary="disk full", dedup_key="b")
    client.force_login(responder)
    response = client.post("/rules/new/", {
        "name": "db", "position": 1, "enabled": "on", "match_field": "summary",
        "operator": "contains", "value": "database", "time_zone": "UTC",
        "action": "severity", "severity": "P1", "preview": "1"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 of 2 recent alerts match." in html
    assert AlertRule.objects.count() == 0  # a preview saves nothing


def test_saving_a_rule_from_the_portal(client, responder):
    client.force_login(responder)
    response = client.post("/rules/new/", {
        "name": "db", "position": 1, "enabled": "on", "match_field": "summary",
        "operator": "regex", "value": "data(base)? down", "time_zone": "UTC",
        "action": "severity", "severity": "P1"})
    assert response.status_code == 302
    assert AlertRule.objects.get().value == "data(base)? down"


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"operator": "regex", "value": "("}, "value", "Not a valid regular expression"),
    ({"action": "severity", "severity": ""}, "severity", "Choose the severity"),
    ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone"),
    ({"weekdays": "9"}, "weekdays", "Use digits 0"),
])
def test_invalid_rule_is_400_with_field_error(client, responder, data, field, message):
    client.force_login(responder)
    base = {"name": "r", "position": 1, "match_field": "summary", "operator": "contains",
            "value": "x", "time_zone": "UTC", "action": "severity", "severity": "P2"}
    response = client.post("/rules/new/", base | data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert AlertRule.objects.count() == 0


def test_admin_rule_page_shows_preview(client, admin_user, generic_key):
    send(client, generic_key, summary="database down")
    saved = rule(name="db", value="database", action="severity", severity="P1")
    client.force_login(admin_user)
    html = client.get(f"/admin/incidents/alertrule/{saved.pk}/change/").content.decode()
    assert "1 of 1 recent alerts match." in html
