"""The SLA panel on the incident page, and pausing and resuming from it."""

import pytest
from django.urls import reverse

from comms.models import ClockPause, SlaClock
from incidents.models import CustomerTier, EntryKind
from tests.comms.sla.conftest import affect, give_targets, make_customer
from tests.conftest import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def sla_incident(commander, enterprise, csm):
    incident = declare(by=commander, customer_tiers=[enterprise], severity="P1")
    affect(incident, make_customer("Acme <Corp>", enterprise, csm), by=csm)
    return incident


def panel(client, incident, **headers):
    return client.get(reverse("sla:incident-panel", args=[incident.pk]), **headers)


def test_panel_shows_each_clock_with_time_left_escaped(client, auditor, sla_incident):
    client.force_login(auditor)
    response = panel(client, sla_incident, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Acme &lt;Corp&gt;" in html and "<Corp>" not in html
    assert "left of 15m" in html and "left of 4h" in html
    due = SlaClock.objects.get(kind="response", replaced_at=None).due_at.isoformat()
    assert f'data-sla-due="{due}"' in html
    assert "<html" not in html  # the fragment only
    assert 'hx-trigger="every 60s" hx-select="#sla-clock-list"' in html  # the list reloads
    assert "Pause clocks" not in html  # auditors read, change nothing


def test_panel_without_javascript_is_a_page(client, responder, sla_incident):
    client.force_login(responder)
    html = panel(client, sla_incident).content.decode()
    assert "<html" in html and "SLA clocks" in html and "Pause clocks" in html


def test_hidden_incident_clocks_are_404(client, outsider, responder, enterprise, commander):
    restricted = declare(by=commander, customer_tiers=[enterprise], restricted=True)
    assert SlaClock.objects.filter(incident=restricted).exists()
    client.force_login(responder)
    assert panel(client, restricted).status_code == 404
    assert client.post(reverse("sla:pause", args=[restricted.pk]),
                       {"reason": "x"}).status_code == 404
    client.force_login(outsider)
    assert panel(client, restricted).status_code == 404


def test_pause_and_resume_through_the_panel(client, csm, sla_incident):
    client.force_login(csm)
    url = reverse("sla:pause", args=[sla_incident.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, {"reason": "Waiting for Acme's HAR file"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and response["HX-Trigger"] == "relay:changed"
    assert "Waiting for Acme&#x27;s HAR file" in html and "Resume clocks" in html
    assert "paused, " in html
    assert ClockPause.objects.get().paused_by == csm
    response = client.post(reverse("sla:resume", args=[sla_incident.pk]))
    assert response.status_code == 302
    assert ClockPause.objects.get().ended_at is not None
    assert sla_incident.timeline.filter(kind=EntryKind.SLA, data__action="resumed").exists()


def test_pause_without_reason_shows_the_error_beside_the_field(client, responder, sla_incident):
    client.force_login(responder)
    response = client.post(reverse("sla:pause", args=[sla_incident.pk]), {"reason": ""},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    assert not ClockPause.objects.exists()


def test_auditor_cannot_pause(client, auditor, sla_incident):
    client.force_login(auditor)
    response = client.post(reverse("sla:pause", args=[sla_incident.pk]), {"reason": "x"})
    assert response.status_code == 403
    assert not ClockPause.objects.exists()


def test_second_pause_is_refused_in_place(client, csm, sla_incident):
    client.force_login(csm)
    url = reverse("sla:pause", args=[sla_incident.pk])
    client.post(url, {"reason": "first"})
    response = client.post(url, {"reason": "second"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "already paused" in response.content.decode()


@pytest.mark.parametrize("customers", [1, 8])
def test_panel_queries_are_constant(client, responder, commander, enterprise, customers,
                                    django_assert_max_num_queries):
    incident = declare(by=commander, customer_tiers=[enterprise], severity="P1")
    affect(incident, *[make_customer(f"C{i}", enterprise) for i in range(customers)])
    client.force_login(responder)
    with django_assert_max_num_queries(9):
        html = panel(client, incident, HTTP_HX_REQUEST="true").content.decode()
    assert html.count("data-sla-clock=") == 2 * customers


def test_pause_while_paused_and_resume_while_running_answer_with_a_sentence(client, csm,
                                                                            commander):
    """Two people acting at once: the second pause (whatever its reason) and a resume of
    running clocks are refused beside the panel's buttons, not with a 500."""
    tier = CustomerTier.objects.create(name="Gold", slug="gold", rank=1)
    give_targets(tier)
    incident = declare(by=commander, title="Checkout slow")
    affect(incident, make_customer("Acme Corp", tier))
    client.force_login(csm)
    resume = client.post(f"/incidents/{incident.pk}/sla/resume/", HTTP_HX_REQUEST="true")
    assert resume.status_code == 400 and b"The clocks are not paused." in resume.content
    assert client.post(f"/incidents/{incident.pk}/sla/pause/", {"reason": "Waiting for logs"},
                       HTTP_HX_REQUEST="true").status_code == 200
    again = client.post(f"/incidents/{incident.pk}/sla/pause/", {"reason": "\x00"},
                        HTTP_HX_REQUEST="true")
    assert again.status_code == 400
    assert b"The clocks are already paused; resume them first." in again.content
    assert ClockPause.objects.filter(incident=incident).count() == 1
