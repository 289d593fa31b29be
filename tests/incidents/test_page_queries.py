"""Queries per page stay constant as the rows grow, for the list and detail pages of intake and
on-call: each page is counted with a few rows and again with many more, and must not grow."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.intake import keys, pipeline
from incidents.intake.formats import generic
from incidents.models import (
    AlertRule,
    IntegrationFormat,
    RuleAction,
    Service,
    WebhookDelivery,
    WebhookSubscription,
)
from incidents.paging import escalation
from tests.conftest import declare, make_team
from tests.incidents.conftest import make_integration
from tests.oncall.conftest import add_contact, add_layer, make_policy, make_schedule

pytestmark = pytest.mark.django_db

CAP = 30  # a page needing more than this is doing per-row work somewhere


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def _assert_constant(client, url, grow, few=2, many=12):
    grow(few)
    small = _queries(client, url)
    grow(many - few)
    large = _queries(client, url)
    assert large <= small <= CAP, (url, small, large)


def test_service_list(client, responder, team):
    client.force_login(responder)
    made = []

    def grow(n):
        for _ in range(n):
            made.append(Service.objects.create(name=f"svc {len(made)}", slug=f"svc-{len(made)}",
                                               team=team))
            make_integration(made[-1])

    _assert_constant(client, reverse("intake:services"), grow)


def test_service_page_with_integrations_heartbeats_and_alerts(client, responder, service):
    client.force_login(responder)
    count = [0]

    def grow(n):
        for _ in range(n):
            count[0] += 1
            _, key = make_integration(service, name=f"int {count[0]}")
            make_integration(service, format=IntegrationFormat.HEARTBEAT,
                             name=f"hb {count[0]}")
            pipeline.ingest(keys.find_integration(key), generic.parse(
                {"summary": f"alert {count[0]}", "dedup_key": f"a{count[0]}"}))

    _assert_constant(client, reverse("intake:service", args=[service.slug]), grow)


def test_rule_list(client, responder, service):
    client.force_login(responder)
    count = [0]

    def grow(n):
        for _ in range(n):
            count[0] += 1
            AlertRule.objects.create(name=f"rule {count[0]}", service=service,
                                     value=f"disk {count[0]}", action=RuleAction.SEVERITY,
                                     severity="P4", position=count[0])

    _assert_constant(client, reverse("intake:rules"), grow)


def test_webhook_list_and_deliveries(client, responder, service, incident):
    client.force_login(responder)
    hooks = []

    def grow_hooks(n):
        for _ in range(n):
            hooks.append(WebhookSubscription.objects.create(
                name=f"hook {len(hooks)}", service=service, url="http://127.0.0.1:9/",
                secret="s"))

    _assert_constant(client, reverse("webhooks:webhooks"), grow_hooks)

    def grow_deliveries(n):
        for _ in range(n):
            WebhookDelivery.objects.create(subscription=hooks[0], event="declared",
                                           incident=incident, payload={})

    _assert_constant(client, reverse("webhooks:webhook", args=[hooks[0].pk]), grow_deliveries)


def test_my_oncall_with_pages(client, responder):
    client.force_login(responder)
    add_contact(responder)
    policy = make_policy({"users": [responder]})

    def grow(n):
        for _ in range(n):
            escalation.advance(declare(escalation_policy=policy).escalation_run.pk)

    _assert_constant(client, reverse("paging:my-oncall"), grow)


def test_oncall_index_and_policy_page(client, responder):
    client.force_login(responder)
    teams = []

    def grow_teams(n):
        for _ in range(n):
            teams.append(make_team(f"Team {len(teams)}", responder))
            add_layer(make_schedule(name=f"rota {len(teams)}", team=teams[-1]), responder)

    _assert_constant(client, reverse("oncall:index"), grow_teams)
    policy = make_policy({"users": [responder]})

    def grow_steps(n):
        start = policy.steps.count()
        for position in range(start, start + n):
            step = policy.steps.create(position=position, delay_minutes=5)
            step.users.set([responder])
            step.schedules.set([make_schedule(name=f"step rota {position}")])

    _assert_constant(client, reverse("oncall:policy", args=[policy.pk]), grow_steps)
