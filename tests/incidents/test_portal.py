"""The portal around the incidents: the declare page, search across statuses, the navigation
each role gets (only what its views let it use), and the way back from the API docs."""

import re

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Incident, Status
from tests.conftest import declare

pytestmark = pytest.mark.django_db


def nav_labels(html: str) -> list[str]:
    """The links of the phone menu, which lists every area (the bar splits them under More)."""
    menu = html.split('<details class="nav-menu">')[1].split("</details>")[0]
    return re.findall(r'<a href="[^"]*"(?: aria-current="page")?>([^<]+)</a>', menu)


# --- declare page ------------------------------------------------------------------------------

def test_declare_page_renders_the_form(client, responder):
    client.force_login(responder)
    response = client.get(reverse("incidents:declare"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<h1") == 1 and "<h1>Declare an incident</h1>" in html
    for name in ("title", "severity", "description", "services", "customer_tiers", "restricted"):
        assert f'name="{name}"' in html
    assert 'id="paging-warning"' in html  # the place the paging check fills in
    assert 'aria-current="page">Declare</a>' in html


def test_declare_page_is_refused_to_read_only_roles(client, auditor):
    client.force_login(auditor)
    assert client.get(reverse("incidents:declare")).status_code == 403


def test_declare_page_post_still_declares(client, responder):
    client.force_login(responder)
    response = client.post(reverse("incidents:declare"), {"title": "Disk full", "severity": "P3"})
    assert response.status_code == 302
    assert Incident.objects.get().title == "Disk full"


# --- dashboard search --------------------------------------------------------------------------

@pytest.fixture
def resolved(commander):
    incident = declare(by=commander, title="Checkout declines cards")
    services.transition(incident, to=Status.RESOLVED, by=commander)
    return incident


def test_search_finds_a_resolved_incident_and_says_it_looked_everywhere(client, responder,
                                                                      resolved):
    declare(by=responder, title="Checkout images slow")
    client.force_login(responder)
    html = client.get("/", {"q": "checkout"}).content.decode()
    assert "Checkout declines cards" in html and "Checkout images slow" in html
    assert "Matching incidents in any status" in html
    assert html.count("<h1") == 1


def test_search_keeps_an_explicit_status(client, responder, resolved):
    declare(by=responder, title="Checkout images slow")
    client.force_login(responder)
    html = client.get("/", {"q": "checkout", "status": "open"}).content.decode()
    assert "Checkout images slow" in html and "Checkout declines cards" not in html
    assert "Matching incidents in any status" not in html


def test_without_a_search_the_dashboard_shows_open_incidents(client, responder, resolved):
    client.force_login(responder)
    html = client.get("/").content.decode()
    assert "Checkout declines cards" not in html and "Open incidents" in html


def test_dashboard_filters_have_visible_labels(client, responder):
    client.force_login(responder)
    html = client.get("/").content.decode()
    form = html.split('<form class="filters"')[1].split("</form>")[0]
    for name, label in (("q", "Search"), ("status", "Status"), ("severity", "Severity"),
                        ("service", "Service"), ("team", "Team")):
        assert f'<label for="filter_{name}">{label}</label>' in form
    assert "as_p" not in form and "<p>" not in form


# --- navigation --------------------------------------------------------------------------------

EVERY_AREA = ["Incidents", "Declare", "Report an issue", "On call", "Services", "Customers", "SLA",
              "Status page", "Post-mortems", "Action items", "Insights", "Rules", "Webhooks",
              "Audit", "API docs", "Admin"]


@pytest.mark.parametrize(("persona", "shown"), [
    ("responder", [a for a in EVERY_AREA if a not in ("Report an issue", "Audit", "Admin")]),
    ("csm", [a for a in EVERY_AREA if a not in ("Declare", "Audit", "Admin")]),
    ("auditor", [a for a in EVERY_AREA if a not in ("Declare", "Report an issue", "Admin")]),
    ("admin_user", EVERY_AREA),
    ("outsider", ["API docs"]),
])
def test_navigation_shows_what_each_role_may_use(client, request, persona, shown):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    html = client.get(reverse("oncall:index") if persona != "outsider"
                      else reverse("api-docs")).content.decode()
    if persona == "outsider":  # no portal page lets them in; the API docs show no menu
        assert "nav-menu" not in html
        return
    assert nav_labels(html) == shown


@pytest.mark.parametrize("persona", ["responder", "csm", "auditor", "admin_user"])
def test_every_link_in_the_navigation_opens(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    html = client.get("/").content.decode()
    menu = html.split('<details class="nav-menu">')[1].split("</details>")[0]
    for url in re.findall(r'<a href="([^"]+)"', menu):
        assert client.get(url).status_code == 200, url


def test_outsider_gets_no_menu_on_the_403_page(client, outsider):
    client.force_login(outsider)
    response = client.get("/")
    assert response.status_code == 403
    assert nav_labels(response.content.decode()) == ["API docs"]


@pytest.mark.parametrize(("path", "current"), [
    ("/", "Incidents"), ("/incidents/declare/", "Declare"), ("/rules/", "Rules"),
    ("/oncall/me/", "On call"), ("/customers/report/", "Report an issue"),
    ("/customers/", "Customers"), ("/action-items/", "Action items"),
])
def test_the_current_area_is_marked(client, admin_user, path, current):
    client.force_login(admin_user)
    html = client.get(path).content.decode()
    marked = re.findall(r'aria-current="page">([^<]+)</a>', html)
    assert set(marked) == {current}


def test_incident_pages_belong_to_incidents(client, commander, incident):
    client.force_login(commander)
    html = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert set(re.findall(r'aria-current="page">([^<]+)</a>', html)) == {"Incidents"}


def test_api_docs_link_back_to_the_portal(client, responder):
    client.force_login(responder)
    html = client.get(reverse("api-docs")).content.decode()
    assert '<a href="/" id="back-to-portal">' in html
    assert "swagger-ui" in html
