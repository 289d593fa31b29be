"""The incident page as a command centre: status menus that offer the next step first and confirm
a step back, structured status updates, the acknowledger becoming commander, actions answering
in their own region, and times in each reader's zone."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import timezones
from accounts.models import Profile
from comms.messages import drafts
from incidents import services
from incidents.models import EntryKind, Status
from incidents.templatetags.relay import ago, local_time
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, incident):
    return reverse(f"incidents:{name}", args=[incident.pk])


@pytest.fixture
def as_responder(client, responder):
    client.force_login(responder)
    return client


def options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select name="\w+"[^>]*id="{select_id}"[^>]*>(.*?)</select>', html,
                       re.S)
    return re.findall(r'<option value="([^"]*)"', select.group(1))


# --- status menus -------------------------------------------------------------------------------

@pytest.mark.parametrize("status,menu", [
    (Status.TRIGGERED, [("acknowledged", False), ("investigating", False), ("identified", False),
                        ("monitoring", False), ("resolved", False), ("declined", False)]),
    (Status.IDENTIFIED, [("monitoring", False), ("resolved", False), ("investigating", True)]),
    (Status.MONITORING, [("resolved", False), ("identified", True), ("investigating", True)]),
    (Status.RESOLVED, [("investigating", True)]),
])
def test_the_status_menu_offers_the_next_step_first_and_the_steps_back_last(
        incident, status, menu):
    incident.status = status
    assert incident.status_menu() == menu


def test_after_identified_the_page_preselects_monitoring_not_a_step_back(as_responder, incident):
    for to in (Status.INVESTIGATING, Status.IDENTIFIED):
        services.transition(incident, to=to, by=incident.declared_by)
    html = as_responder.get(url("detail", incident)).content.decode()
    assert options(html, "id_status") == ["monitoring", "resolved", "investigating"]
    assert "Back to investigating" in html


def test_a_step_back_asks_to_be_confirmed_beside_the_menu(as_responder, incident):
    services.transition(incident, to=Status.IDENTIFIED, by=incident.declared_by)
    before = incident.timeline_seq
    response = as_responder.post(url("transition", incident), {"status": "investigating"},
                                 **HTMX)
    body = response.content.decode()
    assert response.status_code == 400
    assert body.lstrip().startswith('<form id="action-transition"')
    assert "goes back from identified to investigating" in body
    assert 'id="id_transition_confirm"' in body
    assert 'id="incident-header"' not in body  # an error changes nothing else on the page
    incident.refresh_from_db()
    assert (incident.status, incident.timeline_seq) == (Status.IDENTIFIED, before)

    response = as_responder.post(url("transition", incident),
                                 {"status": "investigating", "confirm": "on"}, **HTMX)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING


def test_reopening_asks_to_be_confirmed(as_responder, incident):
    services.transition(incident, to=Status.RESOLVED, by=incident.declared_by)
    response = as_responder.post(url("transition", incident), {"status": "investigating"})
    assert response.status_code == 400
    assert "reopens the incident to investigating" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


# --- answering in place -------------------------------------------------------------------------

def test_a_change_answers_with_its_region_and_refreshes_the_state_regions_out_of_band(
        as_responder, incident):
    response = as_responder.post(url("severity", incident), {"severity": "P1"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and response["HX-Trigger"] == "relay:changed"
    assert body.lstrip().startswith('<form id="action-severity"')
    for region in ("incident-header", "action-transition", "action-update", "action-roles"):
        assert re.search(rf'id="{region}"[^>]*hx-swap-oob="true"', body), region
    assert 'id="action-note"' not in body  # what is being typed there is never re-rendered
    assert 'id="incident-severity">P1 · Critical<' in body


def test_an_error_in_the_note_answers_with_the_note_form_only(as_responder, incident):
    response = as_responder.post(url("note", incident), {"text": "  "}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 400
    assert body.lstrip().startswith('<form id="action-note"')
    assert "This field is required." in body
    assert "hx-swap-oob" not in body


def test_the_poll_brings_new_entries_and_the_state_regions_but_not_the_note_form(
        as_responder, incident, commander):
    seq = incident.timeline_seq
    services.transition(incident, to=Status.INVESTIGATING, by=commander)
    body = as_responder.get(url("timeline", incident) + f"?after={seq}").content.decode()
    assert 'hx-swap-oob="beforeend:#timeline-entries"' in body
    assert re.search(r'id="action-transition"[^>]*hx-swap-oob="true"', body)
    assert options(body, "id_status")[0] == "identified"
    assert 'id="action-note"' not in body


# --- structured status updates ------------------------------------------------------------------

def test_a_status_update_is_one_entry_in_a_fixed_format(as_responder, incident, responder):
    before = timezone.now()
    response = as_responder.post(url("update", incident), {
        "status": incident.status, "known": "Checkout 502s since 09:12 for EU cards",
        "doing": "Rolling back deploy 4512", "next_update_minutes": "30"}, **HTMX)
    assert response.status_code == 200
    entry = incident.timeline.order_by("-seq").first()
    assert (entry.kind, entry.actor, entry.new_value) == (EntryKind.UPDATE, responder,
                                                           "triggered")
    assert entry.data["known"] == "Checkout 502s since 09:12 for EU cards"
    assert entry.data["doing"] == "Rolling back deploy 4512"
    promised = datetime.fromisoformat(entry.data["next_update_at"])
    assert before + timedelta(minutes=30) <= promised <= timezone.now() + timedelta(minutes=30)
    page = as_responder.get(url("detail", incident)).content.decode()
    assert 'class="entry kind-update"' in page and "What we are doing" in page
    assert 'id="latest-update"' in page


def test_an_update_that_moves_the_status_records_the_move_then_the_update(incident, responder):
    services.post_update(incident, by=responder, status=Status.IDENTIFIED,
                         known="Bad config push", doing="Reverting it")
    kinds = list(incident.timeline.order_by("seq").values_list("kind", "new_value"))
    assert kinds[-2:] == [(EntryKind.STATUS, "identified"), (EntryKind.UPDATE, "identified")]
    incident.refresh_from_db()
    assert incident.status == Status.IDENTIFIED


@pytest.mark.parametrize("data,field", [
    ({"known": "", "doing": "x"}, "known"),
    ({"known": "x", "doing": "y" * 2001}, "doing"),
    ({"known": "x", "doing": "y", "next_update_minutes": "7"}, "next_update_minutes"),
    ({"known": "x", "doing": "y", "status": "declined"}, "status"),
    ({"known": "x", "doing": "y", "status": "merged"}, "status"),
])
def test_bad_updates_are_400_beside_their_field_and_write_nothing(as_responder, incident, data,
                                                                  field):
    before = incident.timeline_seq
    response = as_responder.post(url("update", incident),
                                 {"status": incident.status, **data}, **HTMX)
    assert response.status_code == 400
    body = response.content.decode()
    assert re.search(rf'id="id_{field}[^"]*"|name="{field}"', body)
    assert 'class="errorlist' in body
    incident.refresh_from_db()
    assert incident.timeline_seq == before


def test_a_closed_incident_takes_no_update(incident, responder):
    services.transition(incident, to=Status.RESOLVED, by=responder)
    with pytest.raises(services.InvalidTransition, match="reopen it first"):
        services.post_update(incident, by=responder, status=Status.RESOLVED, known="x",
                             doing="y")


def test_customer_message_drafts_start_from_the_latest_update(incident, responder):
    services.add_note(incident, text="Looking at the load balancer", by=responder)
    services.post_update(incident, by=responder, status=Status.INVESTIGATING,
                         known="EU card payments fail", doing="Failing over to the second PSP",
                         next_update_minutes=45)
    now = timezone.now()
    values = drafts.facts(incident, now, cadence=None)
    assert values["known"] == "EU card payments fail"
    assert values["doing"] == "Failing over to the second PSP"
    assert "Investigating. What we know: EU card payments fail What we are doing: Failing " \
           "over to the second PSP" in values["updates"]
    promised = datetime.fromisoformat(incident.timeline.get(kind=EntryKind.UPDATE)
                                      .data["next_update_at"])
    assert values["next_update"] == f"{promised.astimezone(UTC):%H:%M} UTC"


# --- the commander ------------------------------------------------------------------------------

def test_acknowledging_an_incident_without_a_commander_makes_you_its_commander(
        as_responder, incident, responder):
    assert incident.commander is None
    as_responder.post(url("acknowledge", incident), **HTMX)
    incident.refresh_from_db()
    assert incident.commander == responder
    entry = incident.timeline.order_by("-seq").first()
    assert (entry.kind, entry.new_value, entry.data["reason"]) == (
        EntryKind.ROLE, "responder", "acknowledged")
    page = as_responder.get(url("detail", incident)).content.decode()
    assert "made responder commander (acknowledged an incident that had no commander)" in page


def test_acknowledging_keeps_an_existing_commander(incident, commander, responder):
    services.assign_roles(incident, by=commander, commander=commander)
    services.acknowledge(incident, by=responder)
    incident.refresh_from_db()
    assert incident.commander == commander
    assert not incident.timeline.filter(data__reason="acknowledged").exists()


def test_the_commander_is_handed_over_in_one_click(as_responder, incident, responder,
                                                   commander):
    services.assign_roles(incident, by=commander, commander=responder, responders=[commander])
    page = as_responder.get(url("detail", incident)).content.decode()
    assert "Hand over to commander" in page
    response = as_responder.post(url("handover", incident), {"commander": "commander"}, **HTMX)
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<header id="incident-header"')
    incident.refresh_from_db()
    assert incident.commander == commander


def test_a_handover_to_nobody_known_is_a_400(as_responder, incident):
    response = as_responder.post(url("handover", incident), {"commander": "ghost"}, **HTMX)
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()


def test_a_reader_cannot_hand_over_or_post_updates(client, incident, auditor):
    client.force_login(auditor)
    assert client.post(url("handover", incident), {"commander": "auditor"}).status_code == 403
    assert client.post(url("update", incident), {"status": "triggered", "known": "x",
                                                  "doing": "y"}).status_code == 403


# --- time zones ---------------------------------------------------------------------------------

def test_the_browser_zone_is_used_until_one_is_chosen(client, responder, incident):
    client.force_login(responder)
    client.cookies["relay_tz"] = "Europe/Paris"
    html = client.get(url("detail", incident)).content.decode()
    assert "times in Europe/Paris (CET)" in html
    local = timezone.localtime(incident.started_at, ZoneInfo("Europe/Paris"))
    assert f"{local:%H:%M} CET" in html


def test_a_chosen_zone_wins_over_the_browser_and_lasts_across_logins(client, responder, incident):
    client.force_login(responder)
    client.cookies["relay_tz"] = "Europe/Paris"
    response = client.post(reverse("accounts:settings"), {"time_zone": "America/New_York"})
    assert response.status_code == 302
    assert Profile.objects.get(user=responder).time_zone == "America/New_York"
    html = client.get(url("detail", incident)).content.decode()
    assert "times in America/New_York (EST)" in html
    client.logout()  # forgets every cookie, as another device would have none
    client.cookies["relay_tz"] = "Europe/Paris"
    response = client.post(reverse("login"), {"username": "responder",
                                              "password": "pw-responder"})
    assert response.status_code == 302
    html = client.get(url("detail", incident)).content.decode()
    assert "times in America/New_York (EST)" in html


def test_the_public_status_page_stays_in_utc_and_does_not_vary_by_cookie(client):
    client.cookies["relay_tz"] = "Asia/Tokyo"
    response = client.get("/status/")
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.parametrize("cookie", ["../../etc/passwd", "Mars/Olympus", "", "UTC\x00"])
def test_an_unknown_browser_zone_is_ignored(client, responder, incident, cookie):
    client.force_login(responder)
    client.cookies["relay_tz"] = cookie
    html = client.get(url("detail", incident)).content.decode()
    assert "times in UTC (UTC)" in html


def test_an_unknown_zone_in_settings_is_a_400_beside_the_field(client, responder):
    client.force_login(responder)
    response = client.post(reverse("accounts:settings"), {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Profile.objects.filter(user=responder, time_zone="Mars/Olympus").exists()


def test_milestones_are_entered_in_the_readers_zone(client, commander, incident):
    services.assign_roles(incident, by=commander, commander=commander)
    client.force_login(commander)
    client.cookies["relay_tz"] = "Asia/Kolkata"
    started = timezone.localtime(incident.started_at, ZoneInfo("Asia/Kolkata"))
    earlier = (started - timedelta(minutes=10)).replace(second=0, microsecond=0)
    response = client.post(url("milestones", incident), {
        "started_at": earlier.strftime("%Y-%m-%dT%H:%M:%S"),
        "detected_at": started.strftime("%Y-%m-%dT%H:%M:%S"), "note": "paged late"})
    assert response.status_code == 302, response.content.decode()[:500]
    incident.refresh_from_db()
    assert incident.started_at == earlier.astimezone(UTC)


def test_local_time_labels_the_zone_and_says_how_long_ago():
    at = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    with timezone.override(ZoneInfo("Europe/Berlin")):
        html = str(local_time(at, relative=True))
    assert 'datetime="2026-07-01T12:00:00+00:00"' in html
    assert ">Jul 1, 14:00 CEST</time>" in html
    assert 'class="ago"' in html
    assert ago(at, now=at + timedelta(minutes=12)) == "12 min ago"
    assert ago(at, now=at - timedelta(hours=2)) == "in 2 h"
    assert timezones.label(ZoneInfo("Asia/Kolkata"), at) == "IST"
    assert timezones.label(ZoneInfo("America/Sao_Paulo"), at) == "UTC-03:00"


def test_settings_page_says_which_zone_is_used(client):
    user = make_user("zoe", "Responders")
    client.force_login(user)
    client.cookies["relay_tz"] = "Pacific/Auckland"
    html = client.get(reverse("accounts:settings")).content.decode()
    assert "Times are shown in <b>Pacific/Auckland</b>" in html
    assert "the zone your browser reports" in html


def test_escalating_without_a_policy_answers_beside_the_button(as_responder, incident):
    response = as_responder.post(url("escalate", incident), **HTMX)
    body = response.content.decode()
    assert response.status_code == 400
    assert body.lstrip().startswith('<form id="action-escalate"')
    assert f"INC-{incident.pk} has no escalation policy to escalate." in body
    assert "<html" not in body


def test_a_refusal_by_the_incidents_state_also_refreshes_the_stale_page(as_responder, incident,
                                                                        commander):
    services.acknowledge(incident, by=commander)  # meanwhile, on another page
    response = as_responder.post(url("acknowledge", incident), **HTMX)
    body = response.content.decode()
    assert response.status_code == 400
    assert body.lstrip().startswith('<form id="action-acknowledge"')
    assert f"INC-{incident.pk} is already acknowledged." in body
    assert re.search(r'id="incident-header"[^>]*hx-swap-oob="true"', body)
    assert 'id="incident-status">Acknowledged<' in body


def test_a_readers_poll_refreshes_only_the_header(client, csm, incident, commander):
    seq = incident.timeline_seq
    services.add_note(incident, text="Looking", by=commander)
    client.force_login(csm)
    body = client.get(url("timeline", incident) + f"?after={seq}").content.decode()
    assert re.search(r'id="incident-header"[^>]*hx-swap-oob="true"', body)
    assert 'id="action-' not in body  # a reader's page has none to swap into


# --- hostile input ------------------------------------------------------------------------------

HOSTILE = ["\x00", "a\x00b", "\ufffd", "x" * 5000, "", " ", "1e400", "-1", "99999999999999999999",
           "NaN", "<script>alert(1)</script>", "日本", "../../etc/passwd", "P1", "resolved"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("action,field", [
    ("update", "status"), ("update", "known"), ("update", "doing"),
    ("update", "next_update_minutes"), ("handover", "commander"), ("transition", "status"),
    ("transition", "confirm"), ("transition", "note"),
])
def test_hostile_values_are_answered_without_a_500_and_a_400_writes_nothing(
        as_responder, incident, action, field, value):
    valid = {"update": {"status": "triggered", "known": "k", "doing": "d",
                        "next_update_minutes": "30"},
             "handover": {"commander": "responder"},
             "transition": {"status": "acknowledged", "note": ""}}[action]
    before = incident.timeline_seq
    response = as_responder.post(url(action, incident), {**valid, field: value}, **HTMX)
    assert response.status_code in (200, 400)
    incident.refresh_from_db()
    if response.status_code == 400:
        assert incident.timeline_seq == before
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_time_zones_in_settings_are_a_400(client, responder, value):
    client.force_login(responder)
    response = client.post(reverse("accounts:settings"), {"time_zone": value})
    assert response.status_code in (302, 400)
    stored = set(Profile.objects.values_list("time_zone", flat=True))
    assert stored <= {""} | timezones.names()  # only a known zone, or none, is ever kept


def test_bytes_that_are_not_utf8_are_answered_without_a_500(as_responder, incident):
    before = incident.timeline_seq
    body = "status=triggered&known=%ED%A0%80&doing=%FF%FE&next_update_minutes=%C0"
    response = as_responder.post(url("update", incident), body,
                                 content_type="application/x-www-form-urlencoded", **HTMX)
    assert response.status_code == 400
    incident.refresh_from_db()
    assert incident.timeline_seq == before


def test_the_header_names_the_affected_customers(as_responder, incident):
    from comms.customers.services import save_customer
    from incidents.models import CustomerTier

    tier = CustomerTier.objects.create(name="Gold", slug="gold")
    for name in ("Acme", "Bolt", "Cask", "Dune", "Echo"):
        customer, _ = save_customer(by=None, name=name, tier=tier, external_id=None, csm=None,
                                    contacts=[], targets=[])
        customer.incidents.add(incident)
    html = as_responder.get(url("detail", incident)).content.decode()
    assert re.search(r'class="fact-customers"><dt>Customers</dt><dd>Acme, Bolt, Cask and 2 more'
                     r'</dd>', html)
