"""The staff pages of the status page: who may read and change what, each form's bad input
answered beside its field, components set by hand, components and groups kept or refused,
branding, maintenance scheduled, edited, updated, completed and cancelled from the portal."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comms.models import (
    Component,
    ComponentChange,
    ComponentGroup,
    ComponentStatus,
    Maintenance,
    MaintenanceState,
    MaintenanceUpdate,
    StatusPage,
)
from comms.status import maintenance as engine
from comms.status import notices, services
from incidents.models import MaintenanceWindow, Service, Severity
from tests.conftest import declare

pytestmark = pytest.mark.django_db
LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture(autouse=True)
def heard(monkeypatch):
    calls = []
    monkeypatch.setattr(notices, "for_maintenance",
                        lambda m, kind, update=None: calls.append((m.pk, str(kind))))
    return calls


@pytest.fixture
def as_csm(client, csm):
    client.force_login(csm)
    return client


# Read once, on the minute: every time a test names lies whole days and hours from it.
BASE = timezone.now().replace(second=0, microsecond=0)


def _when(days=1, hours=0):
    return BASE + timedelta(days=days, hours=hours)


def _maintenance_post(component, **extra):
    start = _when()
    return {"name": "Database upgrade", "body": "Checkout may be slow.",
            "components": [component.pk], "starts_at": start.strftime(LOCAL),
            "ends_at": (start + timedelta(hours=2)).strftime(LOCAL), "verify_minutes": "15",
            "remind_minutes": "60", **extra}


# --- Who may ------------------------------------------------------------------------------------

def test_anonymous_is_sent_to_log_in(client, component):
    for url in ("/status/manage/", f"/status/manage/components/{component.code}/",
                "/status/manage/maintenances/new/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_responder_reads_the_overview_but_cannot_change_anything(client, responder, component):
    client.force_login(responder)
    page = client.get("/status/manage/")
    assert page.status_code == 200
    assert b"Checkout" in page.content
    assert b"component-status-form" not in page.content
    assert b"Schedule maintenance" not in page.content
    response = client.post(f"/status/manage/components/{component.code}/status/",
                           {f"{component.code}-status": "major_outage"})
    assert response.status_code == 403
    component.refresh_from_db()
    assert component.status == ComponentStatus.OPERATIONAL
    response = client.post("/status/manage/maintenances/new/", _maintenance_post(component))
    assert response.status_code == 403
    assert not Maintenance.objects.exists()
    for url in ("/status/manage/branding/", "/status/manage/components/new/",
                "/status/manage/groups/new/"):
        assert client.get(url).status_code == 403


def test_outsider_without_a_role_is_refused(client, outsider):
    client.force_login(outsider)
    assert client.get("/status/manage/").status_code == 403


def test_actions_refuse_get(as_csm, component):
    response = as_csm.get(f"/status/manage/components/{component.code}/status/")
    assert response.status_code == 405


def test_nav_links_to_the_manage_page_for_staff_who_may_view(client, responder, outsider):
    client.force_login(responder)
    page = client.get("/status/manage/").content
    assert re.search(rb'href="/status/manage/" aria-current="page">Status page</a>', page)
    client.force_login(outsider)
    assert b"/status/manage/" not in client.get("/").content


# --- The overview -------------------------------------------------------------------------------

def test_overview_lists_components_by_group_and_maintenance_in_constant_queries(
        as_csm, csm, group, component, other_component):
    services.schedule(by=csm, name="Upgrade one", body="x", components=[component],
                      starts_at=_when(), ends_at=_when(hours=1))
    as_csm.get("/status/manage/")  # the branding row is created on the first look
    with CaptureQueriesContext(connection) as few:
        page = as_csm.get("/status/manage/")
    text = page.content.decode()
    assert text.index("Payments") < text.index("Checkout") < text.index("Dashboard")
    assert "Upgrade one" in text
    assert 'href="/status/"' in text and 'href="/status/internal/"' in text
    second = ComponentGroup.objects.create(name="Search", position=2)
    for n in range(5):
        Component.objects.create(name=f"Search {n}", group=second, position=n, internal=n == 0)
        services.schedule(by=csm, name=f"Upgrade {n}", body="x", components=[component],
                          starts_at=_when(), ends_at=_when(hours=1))
    with CaptureQueriesContext(connection) as many:
        page = as_csm.get("/status/manage/")
    assert "Search 4" in page.content.decode()
    assert "Upgrade 4" in page.content.decode()
    assert len(many) == len(few) <= 10, "\n".join(q["sql"][:150] for q in many.captured_queries)


def test_csm_sets_a_component_by_hand_with_a_note(as_csm, csm, component):
    response = as_csm.post(f"/status/manage/components/{component.code}/status/",
                           {f"{component.code}-status": "partial_outage",
                            f"{component.code}-note": "  Card payments   slow "})
    assert response.status_code == 302
    component.refresh_from_db()
    assert component.status == ComponentStatus.PARTIAL
    change = ComponentChange.objects.get()
    assert (change.by, change.note) == (csm, "Card payments slow")
    page = as_csm.get("/status/manage/")
    assert "Checkout is now partial outage." in page.content.decode()


def test_a_bad_status_is_an_error_beside_the_field(as_csm, component):
    response = as_csm.post(f"/status/manage/components/{component.code}/status/",
                           {f"{component.code}-status": "on_fire",
                            f"{component.code}-note": "x" * 501})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Select a valid choice. on_fire is not one of the available choices." in text
    assert "Ensure this value has at most 500 characters" in text
    assert not ComponentChange.objects.exists()


# --- Components and groups ----------------------------------------------------------------------

def test_new_component_linked_to_a_service_with_an_open_incident_shows_it(
        as_csm, commander, group, service):
    declare(by=commander, severity=Severity.P1, services=[service])
    response = as_csm.post("/status/manage/components/new/", {
        "name": "Checkout", "description": "Paying for orders", "group": group.pk,
        "position": "1", "services": [service.pk], "follows_incidents": "on"})
    assert response.status_code == 302
    component = Component.objects.get(name="Checkout")
    assert list(component.services.all()) == [service]
    assert component.status == ComponentStatus.MAJOR


def test_component_form_errors_beside_fields(as_csm, component):
    response = as_csm.post("/status/manage/components/new/", {
        "name": "Checkout", "group": "9" * 400, "position": "-1", "services": ["abc"]})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Component with this Name already exists." in text
    assert "Select a valid choice" in text
    assert "Ensure this value is greater than or equal to 0." in text
    assert Component.objects.count() == 1


def test_editing_links_recomputes_the_component(as_csm, commander, component, service):
    other = Service.objects.create(name="Search", slug="search")
    declare(by=commander, severity=Severity.P3, services=[other])
    response = as_csm.post(f"/status/manage/components/{component.code}/", {
        "name": "Checkout", "position": "1", "services": [other.pk],
        "follows_incidents": "on", "internal": "on"})
    assert response.status_code == 302
    component.refresh_from_db()
    assert (component.status, component.internal) == (ComponentStatus.DEGRADED, True)


def test_deleting_a_component_with_history_is_refused_with_a_sentence(as_csm, csm, component,
                                                                      other_component):
    services.set_status(by=csm, component=component, status=ComponentStatus.MAJOR)
    response = as_csm.post(f"/status/manage/components/{component.code}/delete/", follow=True)
    assert "Checkout has a status history (1 change)" in response.content.decode()
    assert Component.objects.filter(pk=component.pk).exists()
    as_csm.post(f"/status/manage/components/{other_component.code}/delete/")
    assert not Component.objects.filter(pk=other_component.pk).exists()


def test_groups_are_created_edited_and_deleted_only_when_empty(as_csm, group, component):
    response = as_csm.post("/status/manage/groups/new/", {"name": "Search", "position": "2"})
    assert response.status_code == 302
    new = ComponentGroup.objects.get(name="Search")
    response = as_csm.post(f"/status/manage/groups/{new.code}/",
                           {"name": "Payments", "position": "2"})
    assert response.status_code == 400
    assert "Component group with this Name already exists." in response.content.decode()
    response = as_csm.post(f"/status/manage/groups/{group.code}/delete/", follow=True)
    assert "Payments still holds 1 component" in response.content.decode()
    as_csm.post(f"/status/manage/groups/{new.code}/delete/")
    assert list(ComponentGroup.objects.values_list("name", flat=True)) == ["Payments"]


def test_branding_is_saved_and_bad_values_refused_beside_fields(as_csm):
    response = as_csm.post("/status/manage/branding/", {
        "name": "Acme status", "about": "", "logo_url": "javascript:alert(1)",
        "accent_colour": "red", "support_url": "", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Enter a colour as #rrggbb." in text
    assert "Enter a valid URL." in text
    assert StatusPage.load().name == "Relay status"
    response = as_csm.post("/status/manage/branding/", {
        "name": "Acme status", "about": "Our services", "logo_url": "",
        "accent_colour": "#112233", "support_url": "https://help.example.test/",
        "time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    page = StatusPage.load()
    assert (page.name, page.accent_colour, page.time_zone) == ("Acme status", "#112233",
                                                               "Europe/Berlin")


# --- Maintenance --------------------------------------------------------------------------------

def test_csm_schedules_maintenance_with_windows(as_csm, csm, component, service, heard):
    response = as_csm.post("/status/manage/maintenances/new/",
                           _maintenance_post(component, windows="on"))
    assert response.status_code == 302
    row = Maintenance.objects.get()
    assert (row.name, row.state, row.created_by) == ("Database upgrade", "scheduled", csm)
    assert list(row.components.all()) == [component]
    assert row.starts_at == _when()  # entered in the current zone (UTC in the tests)
    window = MaintenanceWindow.objects.get()
    assert (window.service, window.starts_at, window.ends_at) == (service, row.starts_at,
                                                                  row.ends_at)
    assert heard == [(row.pk, "scheduled")]
    page = as_csm.get(f"/status/manage/maintenances/{row.code}/").content.decode()
    assert "Alert-intake maintenance windows: Checkout API." in page
    assert "Starts (UTC)" in page


@pytest.mark.parametrize("field,value,message", [
    ("ends_at", "", "This field is required."),
    ("starts_at", "2026-13-45T99:99", "Enter a valid date/time."),
    ("starts_at", "0001-01-01T00:00", "Must be between 1970-01-01 and 2200-01-01"),
    ("verify_minutes", "99999", "Ensure this value is less than or equal to 1440."),
    ("remind_minutes", "-1", "Ensure this value is greater than or equal to 0."),
    ("components", "9" * 400, "Select a valid choice"),
    ("name", "", "This field is required."),
])
def test_maintenance_form_bad_input_is_an_error_beside_its_field(as_csm, component, field,
                                                                 value, message):
    response = as_csm.post("/status/manage/maintenances/new/",
                           _maintenance_post(component, **{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Maintenance.objects.exists()


def test_maintenance_that_ends_before_it_starts_or_in_the_past_is_refused(as_csm, component):
    start = _when()
    response = as_csm.post("/status/manage/maintenances/new/", _maintenance_post(
        component, ends_at=(start - timedelta(hours=1)).strftime(LOCAL)))
    assert "The maintenance must end after it starts." in response.content.decode()
    past = _when(days=-2)
    response = as_csm.post("/status/manage/maintenances/new/", _maintenance_post(
        component, starts_at=past.strftime(LOCAL),
        ends_at=(past + timedelta(hours=1)).strftime(LOCAL)))
    assert response.status_code == 400
    assert "The maintenance must end in the future." in response.content.decode()
    assert not Maintenance.objects.exists()


def test_editing_moves_the_windows_and_posting_an_update(as_csm, csm, component):
    row = services.schedule(by=csm, name="Upgrade", body="x", components=[component],
                            starts_at=_when(), ends_at=_when(hours=1), windows=True)
    later = _when(days=2)
    response = as_csm.post(f"/status/manage/maintenances/{row.code}/", _maintenance_post(
        component, name="Upgrade (moved)", starts_at=later.strftime(LOCAL),
        ends_at=(later + timedelta(hours=1)).strftime(LOCAL), windows="on"))
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert (window.starts_at, window.ends_at) == (later, later + timedelta(hours=1))
    response = as_csm.post(f"/status/manage/maintenances/{row.code}/update/", {"body": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    as_csm.post(f"/status/manage/maintenances/{row.code}/update/",
                {"body": "We moved it by a day."})
    update = MaintenanceUpdate.objects.filter(maintenance=row).latest("at", "id")
    assert (update.state, update.body, update.by) == ("scheduled", "We moved it by a day.", csm)
    page = as_csm.get(f"/status/manage/maintenances/{row.code}/").content.decode()
    assert "We moved it by a day." in page


def test_cancelling_removes_the_maintenance_and_its_windows(as_csm, csm, component):
    row = services.schedule(by=csm, name="Upgrade", body="x", components=[component],
                            starts_at=_when(), ends_at=_when(hours=1), windows=True)
    response = as_csm.post(f"/status/manage/maintenances/{row.code}/delete/")
    assert response.status_code == 302
    assert not Maintenance.objects.exists()
    assert not MaintenanceWindow.objects.exists()


def test_completing_early_from_the_page(as_csm, csm, component, heard):
    now = timezone.now()
    row = services.schedule(by=csm, name="Upgrade", body="x", components=[component],
                            starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1))
    engine.advance(row.pk, timezone.now())
    component.refresh_from_db()
    assert component.status == ComponentStatus.MAINTENANCE
    response = as_csm.post(f"/status/manage/maintenances/{row.code}/complete/",
                           {"body": "All done early."})
    assert response.status_code == 302
    row.refresh_from_db()
    component.refresh_from_db()
    assert row.state == MaintenanceState.COMPLETED
    assert component.status == ComponentStatus.OPERATIONAL
    # A completed maintenance is read only, and cannot be cancelled.
    page = as_csm.get(f"/status/manage/maintenances/{row.code}/").content.decode()
    assert "All done early." in page and "Save changes" not in page
    response = as_csm.post(f"/status/manage/maintenances/{row.code}/delete/", follow=True)
    assert "complete it instead of cancelling it" in response.content.decode()
    assert Maintenance.objects.filter(pk=row.pk).exists()


def test_responder_cannot_complete_update_or_cancel(client, responder, csm, component):
    row = services.schedule(by=csm, name="Upgrade", body="x", components=[component],
                            starts_at=_when(), ends_at=_when(hours=1))
    client.force_login(responder)
    page = client.get(f"/status/manage/maintenances/{row.code}/")
    assert page.status_code == 200
    assert b"Post the update" not in page.content
    for action in ("update", "complete", "delete"):
        response = client.post(f"/status/manage/maintenances/{row.code}/{action}/", {"body": "x"})
        assert response.status_code == 403, action
    assert client.post(f"/status/manage/maintenances/{row.code}/",
                       _maintenance_post(component)).status_code == 403
    assert Maintenance.objects.filter(pk=row.pk, name="Upgrade").exists()


HOSTILE = ["\x00", "a\x00b", "x" * 30_000, "9" * 400, "-1", "", " ", "<script>x</script>",
           "1e400", "NaN", "2026-13-45", "99:99"]


def _counts() -> tuple:
    return (Component.objects.count(), ComponentGroup.objects.count(),
            ComponentChange.objects.count(), Maintenance.objects.count(),
            MaintenanceUpdate.objects.count(), MaintenanceWindow.objects.count())


@pytest.mark.parametrize("form", ["status", "component", "group", "branding", "maintenance",
                                  "update"])
def test_hostile_values_in_every_form_never_fail(as_csm, csm, group, component, service, form):
    row = services.schedule(by=csm, name="Upgrade", body="x", components=[component],
                            starts_at=_when(), ends_at=_when(hours=1))
    url, valid = {
        "status": (f"/status/manage/components/{component.code}/status/",
                   {f"{component.code}-status": "major_outage", f"{component.code}-note": "x"}),
        "component": ("/status/manage/components/new/", {
            "name": "Search", "description": "", "group": group.pk, "position": "2",
            "services": service.pk, "follows_incidents": "on"}),
        "group": ("/status/manage/groups/new/", {"name": "Search", "position": "2"}),
        "branding": ("/status/manage/branding/", {
            "name": "Acme", "about": "", "logo_url": "", "accent_colour": "#112233",
            "support_url": "", "time_zone": "UTC"}),
        "maintenance": ("/status/manage/maintenances/new/", _maintenance_post(component)),
        "update": (f"/status/manage/maintenances/{row.code}/update/", {"body": "Hello"}),
    }[form]
    for field in valid:
        for value in HOSTILE:
            before = _counts()
            response = as_csm.post(url, {**valid, field: value})
            assert response.status_code < 500, (field, value[:20])
            if response.status_code == 400:
                assert _counts() == before, (field, value[:20])
                assert b"errorlist" in response.content, (field, value[:20])


def test_renaming_a_running_maintenance_set_to_the_second_keeps_its_times(as_csm, csm,
                                                                          component):
    now = timezone.now()
    start, end = now - timedelta(seconds=90), now + timedelta(hours=1, seconds=17)
    row = services.schedule(by=csm, name="Upgrade", body="x", components=[component],
                            starts_at=start, ends_at=end)
    engine.advance(row.pk, timezone.now())
    response = as_csm.post(f"/status/manage/maintenances/{row.code}/", _maintenance_post(
        component, name="Upgrade (phase 1)", starts_at=start.strftime(LOCAL),
        ends_at=end.strftime(LOCAL)))
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.name, row.starts_at, row.ends_at) == ("Upgrade (phase 1)", start, end)
    # Moving the start of a running one is still refused, beside the field.
    response = as_csm.post(f"/status/manage/maintenances/{row.code}/", _maintenance_post(
        component, starts_at=(start - timedelta(hours=1)).strftime(LOCAL),
        ends_at=end.strftime(LOCAL)))
    assert response.status_code == 400
    assert "It has started: its start can no longer move." in response.content.decode()
