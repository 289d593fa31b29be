"""The status page in HTML: what it shows and hides, its cache (no query when warm, 304s, fresh
after a publication), history and detail pages, the internal page."""

import gzip
import os
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comms.models import (
    Component,
    ComponentGroup,
    Maintenance,
    MaintenanceState,
    MaintenanceUpdate,
    Phase,
    StatusPage,
)
from comms.status import cache, pages
from incidents import services
from incidents.models import Severity, Status
from tests.comms.status.conftest import publish
from tests.conftest import declare

PAGE = "/status/"


def local(at, zone="UTC") -> str:
    """How the page writes a time: '30 Nov 2026, 14:05 CET'."""
    return timezone.localtime(at, ZoneInfo(zone)).strftime("%-d %b %Y, %H:%M %Z")


def text(response) -> str:
    return response.content.decode()


def img_src(response) -> list[str]:
    directives = dict(part.strip().split(" ", 1)
                      for part in response["Content-Security-Policy"].split(";"))
    return directives["img-src"].split()


@pytest.fixture
def branded(db):
    page = StatusPage.load()
    page.name, page.about = "Acme status", "Live status of Acme's payment services."
    page.time_zone, page.accent_colour = "Europe/Paris", "#aa3300"
    page.support_url = "https://support.acme.test/"
    page.save()
    return page


@pytest.fixture
def internal_component(group):
    return Component.objects.create(name="Ledger replica", group=group, position=3,
                                    internal=True, description="Async copy for finance")


@pytest.fixture
def maintenance(component):
    start = timezone.now() + timedelta(days=2)
    window = Maintenance.objects.create(name="Database upgrade", body="Checkout may be slow.",
                                        starts_at=start, ends_at=start + timedelta(hours=2))
    window.components.add(component)
    MaintenanceUpdate.objects.create(maintenance=window, state=MaintenanceState.SCHEDULED,
                                     body="We will upgrade the database.")
    return window


# --- The page -----------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_page_shows_banner_components_uptime_and_active_incident(client, branded, commander, csm,
                                                                component, other_component,
                                                                incident):
    first = publish(incident, csm, subject="Payments failing", body="Cards are declined.")
    second = publish(incident, csm, subject="Payments failing", body="A fix is rolling out.",
                     phase=Phase.IDENTIFIED)
    body = text(client.get(PAGE))
    # P2 on Checkout's service: a partial outage, and the incident's major impact in the banner.
    assert '<h1 class="banner banner-major">Partial System Outage</h1>' in body
    assert "Live status of Acme&#x27;s payment services." in body
    assert 'id="group-1" class="group-head">Payments' in body
    assert "<strong>Checkout</strong>" in body and "Partial outage</span>" in body
    assert "<strong>Dashboard</strong>" in body and "Operational</span>" in body
    assert body.count('<ol class="bars">') == 2
    assert body.count("% uptime<span class=\"narrow\"> over 90 days</span></span>") == 2
    # The update list, newest first, each with its status and local time.
    assert "Payments failing</a></h3>" in body
    assert body.index("A fix is rolling out.") < body.index("Cards are declined.")
    assert "<strong>Identified</strong> <time datetime=" in body
    assert local(second.published_at, "Europe/Paris") in body
    assert local(first.published_at, "Europe/Paris") in body
    assert "Times are in Europe/Paris." in body
    for link in ("/status/history/", "/status/history.atom", "/status/history.rss",
                 "/status/subscribe/", "/status/api/v2/summary.json",
                 "https://support.acme.test/"):
        assert f'href="{link}"' in body
    assert 'style="--accent: #aa3300"' in body
    assert "<script" not in body


@pytest.mark.django_db
def test_uptime_days_carry_their_date_and_percentage(client, component):
    component.created_at = timezone.now() - timedelta(days=200)
    component.save()
    body = text(client.get(PAGE))
    today = timezone.localdate()
    label = f"{today.day} {today:%b %Y}: 100 % uptime"
    assert f'title="{label}" aria-label="{label}"' in body
    assert body.count('class="day-operational"') == 90
    assert '<span class="summary">100 % uptime<span class="narrow"> over 90 days</span>' in body


@pytest.mark.django_db
def test_a_new_component_has_no_data_before_it_existed(client, component):
    body = text(client.get(PAGE))
    assert body.count('class="day-none"') == 89
    assert body.count('class="day-operational"') == 1


@pytest.mark.django_db
def test_warm_page_runs_no_query_and_is_the_same_for_everyone(client, csm, incident, component,
                                                              django_assert_num_queries):
    publish(incident, csm)
    cold = client.get(PAGE)
    with django_assert_num_queries(0):
        warm = client.get(PAGE)
    assert warm.content == cold.content
    assert warm["ETag"] == cold["ETag"]
    assert warm["Cache-Control"] == "public, max-age=2, must-revalidate"
    client.force_login(csm)
    assert client.get(PAGE).content == cold.content
    assert b"csrfmiddlewaretoken" not in cold.content and b"csm" not in cold.content


@pytest.mark.django_db
def test_cold_page_queries_do_not_grow_with_components(client, group,
                                                       django_assert_max_num_queries):
    Component.objects.create(name="One", group=group)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    for i in range(8):
        Component.objects.create(name=f"More {i}", group=ComponentGroup.objects.create(
            name=f"G{i}") if i % 2 else None)
    cache.clear_local()
    with django_assert_max_num_queries(len(few)):
        assert text(client.get(PAGE)).count('<ol class="bars">') == 9


@pytest.mark.django_db
def test_etag_and_if_modified_since_answer_304(client, component):
    first = client.get(PAGE)
    again = client.get(PAGE, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"]
    since = client.get(PAGE, headers={"If-Modified-Since": first["Last-Modified"]})
    assert since.status_code == 304
    other = client.get(PAGE, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


@pytest.mark.django_db
def test_only_get_and_head(client, component):
    assert client.post(PAGE).status_code == 405
    assert client.put(reverse("status:history")).status_code == 405
    head = client.head(PAGE)
    assert head.status_code == 200 and head.content == b""
    assert head["ETag"] == client.get(PAGE)["ETag"]


@pytest.mark.django_db(transaction=True)
def test_publication_shows_on_the_next_request(client, csm, incident, component, monkeypatch):
    monkeypatch.setattr(cache, "CHECK_EVERY", 0)
    publish(incident, csm, subject="Payments failing", body="Looking into it.")
    before = client.get(PAGE)
    assert "Looking into it." in text(before)
    publish(incident, csm, subject="Payments failing", body="Fixed; watching closely.",
            phase=Phase.MONITORING)
    after = client.get(PAGE, headers={"If-None-Match": before["ETag"]})
    assert after.status_code == 200
    assert "Fixed; watching closely." in text(after)
    assert "<strong>Monitoring</strong>" in text(after)


@pytest.mark.django_db(transaction=True)
def test_restricted_incident_absent_from_every_page(client, admin_user, csm, commander, incident,
                                                    component):
    publish(incident, csm, subject="Payments failing", body="Looking into it.")
    code = incident.public_incident.code
    assert "Payments failing" in text(client.get(PAGE))
    services.set_restricted(incident, restricted=True, by=admin_user)
    urls = [PAGE, reverse("status:history"), reverse("status:incident", args=[code])]
    for url in urls:
        body = text(client.get(url))
        assert "Payments failing" not in body and "Looking into it." not in body, url
    assert client.get(reverse("status:incident", args=[code])).status_code == 404
    client.force_login(csm)
    assert "Payments failing" not in text(client.get(reverse("status:internal")))


@pytest.mark.django_db(transaction=True)
def test_internal_words_never_reach_public_pages(client, commander, csm, service, component,
                                                 internal_component):
    incident = declare(by=commander, title="Primary DB failover botched", services=[service],
                       description="Runbook step 4 skipped by on-call")
    services.add_note(incident, text="Blame the replica lag alert", by=commander)
    publish(incident, csm, subject="Checkout errors", body="Some payments fail.")
    code = incident.public_incident.code
    for url in (PAGE, reverse("status:history"), reverse("status:incident", args=[code])):
        body = text(client.get(url))
        assert "Checkout errors" in body, url
        for secret in ("Primary DB failover", "Runbook step 4", "Blame the replica",
                       "Ledger replica", "Async copy for finance", "commander"):
            assert secret not in body, (url, secret)


# --- CSP and branding ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_logo_origin_is_allowed_by_csp_on_status_pages_only(client, component):
    plain = client.get(PAGE)
    assert img_src(plain) == ["'self'", "data:"]
    page = StatusPage.load()
    page.logo_url = "https://cdn.acme.test/brand/logo.png"
    page.save()
    cache.clear_local()
    response = client.get(PAGE)
    assert img_src(response) == ["'self'", "data:", "https://cdn.acme.test"]
    assert '<img src="https://cdn.acme.test/brand/logo.png" alt="Relay status"' in text(response)
    history = client.get(reverse("status:history"))
    assert "https://cdn.acme.test" in img_src(history)
    assert img_src(client.get("/accounts/login/")) == ["'self'", "data:"]


# --- History and detail pages -------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_history_lists_the_months_incidents_and_maintenance(client, csm, incident, component,
                                                            maintenance):
    publish(incident, csm, subject="Payments failing", body="Looking into it.")
    Maintenance.objects.filter(pk=maintenance.pk).update(starts_at=timezone.now())
    cache.invalidate()
    body = text(client.get(reverse("status:history")))
    today = timezone.localdate()
    assert f"Incident history: {today:%B %Y}</h1>" in body
    code = incident.public_incident.code
    assert f'<a href="/status/incidents/{code}/">Payments failing</a>' in body
    assert "Looking into it." in body
    assert f'<a href="/status/maintenances/{maintenance.code}/">Database upgrade</a>' in body
    previous = (today.replace(day=1) - timedelta(days=1))
    assert f'href="/status/history/{previous.year}/{previous.month}/" rel="prev"' in body
    assert 'rel="next"' not in body


@pytest.mark.django_db
def test_an_empty_month_says_so_and_links_both_ways(client, component):
    response = client.get(reverse("status:history-month", args=[2024, 2]))
    body = text(response)
    assert "Incident history: February 2024</h1>" in body
    assert "No incidents reported in February 2024." in body
    assert "No maintenance scheduled in February 2024." in body
    assert 'href="/status/history/2024/1/" rel="prev"' in body
    assert 'href="/status/history/2024/3/" rel="next"' in body


@pytest.mark.django_db
def test_months_outside_the_range_are_404_without_queries_on_repeat(client, component,
                                                                    django_assert_num_queries):
    next_year = timezone.localdate().year + 1
    for year, month in ((1999, 12), (2024, 13), (2024, 0), (next_year, 1)):
        response = client.get(f"/status/history/{year}/{month}/")
        assert response.status_code == 404
        assert "<h1>Not found</h1>" in text(response)
    with django_assert_num_queries(0):
        assert client.get("/status/history/1999/12/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_incident_page_shows_its_updates_in_the_pages_zone(client, commander, csm, branded,
                                                           incident, component):
    first = publish(incident, csm, subject="Payments failing", body="Looking into it.")
    services.transition(incident, to=Status.RESOLVED, by=commander)
    publish(incident, csm, subject="Payments failing", body="All good again.",
            phase=Phase.RESOLVED)
    code = incident.public_incident.code
    body = text(client.get(reverse("status:incident", args=[code])))
    assert "<h1>Payments failing</h1>" in body
    assert "Affects Checkout." in body
    assert body.index("All good again.") < body.index("Looking into it.")
    assert "<strong>Resolved</strong>" in body
    assert "First posted <time datetime=" in body
    assert local(first.published_at, "Europe/Paris") in body


@pytest.mark.django_db
def test_maintenance_page(client, maintenance, branded):
    body = text(client.get(reverse("status:maintenance", args=[maintenance.code])))
    assert "<h1>Database upgrade</h1>" in body
    assert "Checkout may be slow." in body and "We will upgrade the database." in body
    assert local(maintenance.starts_at, "Europe/Paris") in body
    assert "Affects Checkout." in body
    page = text(client.get(PAGE))
    assert "Scheduled maintenance</h2>" in page and "Database upgrade" in page


@pytest.mark.django_db
def test_unknown_codes_are_404_without_queries_on_repeat(client, component,
                                                         django_assert_num_queries):
    for url in ("/status/incidents/nosuchcode00/", "/status/maintenances/nosuchcode00/"):
        assert client.get(url).status_code == 404
        with django_assert_num_queries(0):
            response = client.get(url)
        assert response.status_code == 404 and "<h1>Not found</h1>" in text(response)
    with django_assert_num_queries(0):
        assert client.get("/status/incidents/another-one/").status_code == 404


# --- The internal page --------------------------------------------------------------------------

@pytest.mark.django_db
def test_internal_page_needs_login_and_permission(client, outsider, component,
                                                  internal_component):
    url = reverse("status:internal")
    assert client.get(url).url.startswith("/accounts/login/")
    client.force_login(outsider)
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_internal_page_lists_internal_components_and_is_not_cached(client, responder, component,
                                                                   internal_component):
    client.force_login(responder)
    response = client.get(reverse("status:internal"))
    body = text(response)
    assert '<strong>Ledger replica</strong> <span class="badge">Internal</span>' in body
    assert "<strong>Checkout</strong>" in body
    assert response["Cache-Control"] in ("private, no-store", "no-store, private")
    assert "Ledger replica" not in text(client.get(PAGE))


def test_maintenance_of_an_internal_component_names_it_only_internally(
        client, responder, component, internal_component):
    start = timezone.now() + timedelta(days=2)
    maintenance = Maintenance.objects.create(name="Replica rebuild", body="Slower reports.",
                                             starts_at=start, ends_at=start + timedelta(hours=1))
    maintenance.components.set([component, internal_component])
    public_body = text(client.get(PAGE))
    assert "Replica rebuild" in public_body and "Affects Checkout" in public_body
    assert "Ledger replica" not in public_body
    client.force_login(responder)
    assert "Affects Checkout, Ledger replica" in text(client.get(reverse("status:internal")))


def test_month_bounds_follow_the_pages_zone():
    start, end = pages.month_bounds(ZoneInfo("Europe/Paris"), 2026, 12)
    assert (start.isoformat(), end.isoformat()) == ("2026-11-30T23:00:00+00:00",
                                                    "2026-12-31T23:00:00+00:00")


@pytest.mark.django_db
def test_severity_colours_come_with_words(client, commander, csm, service, component):
    declare(by=commander, severity=Severity.P1, services=[service])
    body = text(client.get(PAGE))
    assert '<span class="state state-major_outage">Major outage</span>' in body


@pytest.mark.django_db
def test_another_processs_change_reaches_this_one(client, component, monkeypatch):
    """Without a shared cache the generation is a file's time: what another process bumps."""
    monkeypatch.setattr(cache, "CHECK_EVERY", 0)
    assert "Checkout" in text(client.get(PAGE))
    Component.objects.filter(pk=component.pk).update(name="Checkout v2")
    assert "Checkout v2" not in text(client.get(PAGE))  # no invalidation yet: still cached
    path = cache._generation_file()
    later = (cache.generation() + 1_000_000) * 1000
    os.utime(path, ns=(later, later))  # as the other process's _bump() would
    assert "Checkout v2" in text(client.get(PAGE))


@pytest.mark.django_db
def test_browsers_get_the_page_gzipped_once_per_generation(client, component, other_component):
    plain = client.get(PAGE)
    packed = client.get(PAGE, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) * 5 < len(plain.content)
    assert plain["Vary"] == packed["Vary"] == "Accept-Encoding"
    assert packed["ETag"] != plain["ETag"]
    again = client.get(PAGE, headers={"Accept-Encoding": "gzip",
                                      "If-None-Match": packed["ETag"]})
    assert again.status_code == 304 and again["ETag"] == packed["ETag"]
    # A small body is not worth compressing.
    assert cache._compressed(b"{}" * 100) == b""
