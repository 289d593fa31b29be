"""The service page: who owns it, who is paged (or loudly: nobody), its open incidents, its
integrations and runbook, in a constant number of queries."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Service, Severity, Status
from oncall.models import EscalationPolicy
from tests.conftest import declare
from tests.incidents.conftest import make_integration

pytestmark = pytest.mark.django_db


def page(client, user, service):
    client.force_login(user)
    response = client.get(reverse("intake:service", args=[service.slug]))
    assert response.status_code == 200
    return response.content.decode()


def test_shows_owner_team_lead_runbook_and_open_incidents_only(client, commander, responder,
                                                              service):
    open_one = declare(by=commander, title="Checkout returns 502", services=[service],
                       severity=Severity.P1)
    closed = declare(by=commander, title="Checkout was slow", services=[service])
    services.transition(closed, to=Status.RESOLVED, by=commander)
    declare(by=commander, title="Search index lag")  # another service's, or none
    html = page(client, responder, service)
    assert "Payments" in html and "lead <b>commander</b>" in html
    assert 'href="https://runbooks.example.test/checkout"' in html
    listed = html.split('id="service-incidents"')[1].split("</ul>")[0]
    assert f'href="/incidents/{open_one.pk}/"' in listed
    assert "sev-P1" in listed and "Triggered" in listed
    assert "Checkout was slow" not in listed and "Search index lag" not in listed
    assert "Nobody will be paged" not in html  # the team has a lead


def test_links_the_escalation_policy(client, responder, service):
    policy = EscalationPolicy.objects.create(name="Checkout default")
    service.escalation_policy = policy
    service.save()
    html = page(client, responder, service)
    assert f'<a href="/oncall/policies/{policy.pk}/">Checkout default</a>' in html


def test_a_service_nobody_would_hear_of_says_so_loudly(client, responder):
    orphan = Service.objects.create(name="Legacy billing", slug="legacy-billing")
    html = page(client, responder, orphan)
    assert 'role="alert" id="service-silence">Nobody will be paged: Legacy billing has' in html
    assert "No owner team" in html


def test_restricted_incidents_stay_hidden_from_those_not_granted(client, commander, responder,
                                                                 service):
    secret = declare(by=commander, title="Card skimming suspected", services=[service],
                     restricted=True)
    assert "Card skimming suspected" not in page(client, responder, service)
    assert secret.title in page(client, commander, service)  # the declarer was granted


@pytest.mark.parametrize("n", [2, 15])
def test_service_page_queries_are_constant(client, commander, responder, service, n,
                                           django_assert_max_num_queries):
    service.escalation_policy = EscalationPolicy.objects.create(name="Checkout default")
    service.save()
    for i in range(n):
        declare(by=commander, title=f"Incident {i}", services=[service])
        make_integration(service, name=f"Integration {i}")
    client.force_login(responder)
    with django_assert_max_num_queries(13):
        response = client.get(reverse("intake:service", args=[service.slug]))
    html = response.content.decode()
    assert f"Incident {n - 1}" in html and f"Integration {n - 1}" in html
