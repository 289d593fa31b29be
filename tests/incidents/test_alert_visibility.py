"""Alerts of a restricted incident are as hidden as the incident, on every surface that lists
alerts, through one guard (permissions.visible_alerts)."""

import json

import pytest
from django.contrib.auth.models import User

from incidents import permissions
from incidents.models import Alert, AlertRule, MatchField, RuleAction

pytestmark = pytest.mark.django_db

SECRET = "Secret breach signal"


@pytest.fixture
def secret_alert(client, service, generic_key):
    client.post(f"/integrations/generic/{generic_key}/", data=json.dumps({"summary": SECRET}),
                content_type="application/json")
    alert = Alert.objects.get()
    alert.incident.restricted = True
    alert.incident.save()
    return alert


@pytest.fixture
def rule(service):
    return AlertRule.objects.create(name="everything", service=service,
                                    match_field=MatchField.ANY, action=RuleAction.DROP)


SURFACES = {
    "service page": lambda alert, rule: f"/services/{alert.service.slug}/",
    "rule preview": lambda alert, rule: f"/rules/{rule.pk}/",
    "incident alert page": lambda alert, rule: f"/incidents/{alert.incident_id}/alerts/",
    "admin alert list": lambda alert, rule: "/admin/incidents/alert/",
    "admin rule preview": lambda alert, rule: f"/admin/incidents/alertrule/{rule.pk}/change/",
}


def _page(client, user, url) -> tuple[int, str]:
    User.objects.filter(pk=user.pk).update(is_staff=True)  # the admin surfaces too
    client.force_login(user)
    response = client.get(url)
    return response.status_code, response.content.decode()


@pytest.mark.parametrize("surface", SURFACES)
def test_a_restricted_incidents_alerts_are_hidden_from_those_not_granted(
        surface, client, responder, secret_alert, rule):
    status, html = _page(client, responder, SURFACES[surface](secret_alert, rule))
    assert status in (200, 404)
    assert SECRET not in html


@pytest.mark.parametrize("surface", SURFACES)
def test_auditors_see_a_restricted_incidents_alerts(surface, client, auditor, secret_alert, rule):
    status, html = _page(client, auditor, SURFACES[surface](secret_alert, rule))
    assert status == 200
    assert SECRET in html


@pytest.mark.parametrize("surface", SURFACES)
def test_a_granted_responder_sees_a_restricted_incidents_alerts(
        surface, client, responder, secret_alert, rule):
    permissions.grant_view(secret_alert.incident, user=responder)
    status, html = _page(client, responder, SURFACES[surface](secret_alert, rule))
    assert status == 200
    assert SECRET in html


def test_alerts_of_no_incident_stay_visible(outsider, secret_alert):
    Alert.objects.filter(pk=secret_alert.pk).update(incident=None)
    assert list(permissions.visible_alerts(outsider)) == [secret_alert]
