"""On-call configuration, overrides and swaps write the audit log, whichever path writes them
(portal, admin, the page that issues a calendar feed): who, from where, what changed, and never
a secret (calendar tokens, webhook and Slack URLs), only that it changed. A refused save writes
nothing."""

from datetime import date, timedelta

import pytest
from django.core import serializers
from django.urls import reverse
from django.utils import timezone

from incidents.models import AuditEntry, AuditSource
from oncall import schedules, services
from oncall.models import (
    CalendarFeed,
    ContactMethod,
    EscalationPolicy,
    Layer,
    NotificationRule,
    Override,
    Schedule,
    Swap,
    SwapState,
)
from tests.conftest import make_team, make_user
from tests.oncall.conftest import add_contact, add_layer, make_policy, make_schedule
from tests.oncall.test_edit import layer_data, schedule_data

pytestmark = pytest.mark.django_db

SECRET = "(secret)"
SLACK_URL = "https://hooks.slack.example.com/services/T0001/B0002/k3y-0f-the-channel"
SLACK_URL_2 = "https://hooks.slack.example.com/services/T0001/B0002/r0tated-k3y"


def entries(action=None):
    """This area's entries (sign-ins and the like are other areas' business)."""
    rows = AuditEntry.objects.filter(object_type__startswith="oncall.").order_by("seq")
    return list(rows.filter(action=action) if action else rows)


def only(action):
    found = entries(action)
    assert len(found) == 1, [e.action for e in entries()]
    return found[0]


def serialized(entry) -> str:
    return serializers.serialize("json", [entry])


def assert_from(entry, user, source):
    assert (entry.actor_id, entry.actor_label, entry.source) == (user.pk, user.username, source)
    assert entry.ip == "127.0.0.1"


@pytest.fixture
def ann(db):
    user = make_user("ann", "Responders")
    add_contact(user)
    return user


@pytest.fixture
def rota(responder, ann):
    team = make_team("Checkout", ann, responder)
    schedule = make_schedule(name="Checkout primary", team=team)
    add_layer(schedule, ann, responder, unit="days", start=date(2026, 1, 1))
    return schedule


@pytest.fixture
def superuser(admin_user, client):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    return admin_user


def admin_post(client, url, data):
    """POST an admin add/change page with its inline management forms filled in."""
    page = client.get(url)
    full = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        full.update({management.add_prefix(name): management[name].value()
                     for name in management.fields})
    full.update(data)
    return client.post(url, full)


# --- The portal's schedule editor: one entry per save, the whole structure ------------------------

def test_schedule_editor_writes_one_entry_with_only_what_changed(client, rota, responder, ann):
    layer = rota.layers.get()
    client.force_login(responder)
    response = client.post(reverse("oncall:schedule-edit", args=[rota.pk]), schedule_data(
        rota, layer_data(layer, participants=[responder.pk, ann.pk]), name="Checkout rota"))
    assert response.status_code == 302
    entry = only("schedule.update")
    assert len(entries()) == 1  # no entry per layer or member row
    assert_from(entry, responder, AuditSource.WEB)
    assert (entry.object_type, entry.object_id, entry.object_repr) == (
        "oncall.schedule", str(rota.pk), "Checkout rota")
    assert set(entry.before) == set(entry.after) == {"name", "layers"}
    assert (entry.before["name"], entry.after["name"]) == ("Checkout primary", "Checkout rota")
    assert entry.before["layers"][0]["members"] == [ann.pk, responder.pk]
    assert entry.after["layers"] == [{
        "id": layer.pk, "name": "Primary", "rank": 0, "start_date": "2026-01-01",
        "handoff_time": "09:00:00", "turn_unit": "days", "turn_length": 1,
        "restrict_start": None, "restrict_end": None, "restrict_weekdays": [],
        "members": [responder.pk, ann.pk]}]
    assert entry.secrets_changed == []
    assert rota.calendar_token not in serialized(entry)


def test_new_schedule_is_logged_whole_with_its_token_only_named(client, responder, ann):
    make_team("Checkout", responder)
    client.force_login(responder)
    team = responder.groups.get(name="team:checkout").team
    response = client.post(reverse("oncall:schedule-new"), schedule_data(
        None, layer_data(None, participants=[ann.pk]), team=team.pk))
    assert response.status_code == 302
    schedule = Schedule.objects.get(name="New rota")
    entry = only("schedule.create")
    assert entry.before is None
    assert entry.after["calendar_token"] == SECRET
    assert entry.secrets_changed == ["calendar_token"]
    assert entry.after["team"] == team.pk and entry.after["time_zone"] == "Europe/Berlin"
    assert [layer["members"] for layer in entry.after["layers"]] == [[ann.pk]]
    assert schedule.calendar_token not in serialized(entry)


def test_refused_schedule_edit_writes_nothing(client, rota, responder):
    layer = rota.layers.get()
    client.force_login(responder)
    url = reverse("oncall:schedule-edit", args=[rota.pk])
    half_window = schedule_data(rota, layer_data(layer, restrict_start="09:00"))
    assert client.post(url, half_window).status_code == 400
    stale = schedule_data(rota, layer_data(layer), name="Renamed", version="0" * 32)
    assert client.post(url, stale).status_code == 400
    assert entries() == []


def test_layers_removed_in_the_editor_are_in_the_entry(client, rota, responder, ann):
    low = rota.layers.get()
    nights = add_layer(rota, ann, name="Nights", rank=1)
    client.force_login(responder)
    response = client.post(reverse("oncall:schedule-edit", args=[rota.pk]),
                           schedule_data(rota, layer_data(low)))
    assert response.status_code == 302
    entry = only("schedule.update")
    assert set(entry.before) == {"layers"}
    assert [layer["id"] for layer in entry.before["layers"]] == [nights.pk, low.pk]
    assert [layer["id"] for layer in entry.after["layers"]] == [low.pk]


# --- The portal's policy editor ------------------------------------------------------------------

def step_data(*steps) -> dict:
    data = {"step-TOTAL_FORMS": len(steps), "step-INITIAL_FORMS": 0}
    for i, step in enumerate(steps):
        data.update({f"step-{i}-{key}": value for key, value in step.items()})
    return data


def test_policy_editor_writes_one_entry_with_its_steps(client, rota, responder, ann):
    team = rota.team
    policy = make_policy({"schedules": [rota], "delay": 5}, name="Checkout")
    policy.team = team
    policy.save()
    client.force_login(responder)
    response = client.post(reverse("oncall:policy-edit", args=[policy.pk]), {
        "name": "Checkout", "team": team.pk, "description": "", "repeat": 2,
        "ack_timeout_minutes": "",
        **step_data({"delay_minutes": 5, "schedules": [rota.pk]},
                    {"delay_minutes": 10, "users": [ann.pk]})})
    assert response.status_code == 302
    entry = only("escalation_policy.update")
    assert len(entries()) == 1
    assert_from(entry, responder, AuditSource.WEB)
    assert entry.before == {"repeat": 0, "steps": [
        {"delay_minutes": 5, "users": [], "schedules": [rota.pk], "teams": []}]}
    assert entry.after == {"repeat": 2, "steps": [
        {"delay_minutes": 5, "users": [], "schedules": [rota.pk], "teams": []},
        {"delay_minutes": 10, "users": [ann.pk], "schedules": [], "teams": []}]}


def test_refused_policy_edit_writes_nothing(client, rota, responder):
    policy = make_policy({"schedules": [rota]}, name="Checkout")
    policy.team = rota.team
    policy.save()
    client.force_login(responder)
    response = client.post(reverse("oncall:policy-edit", args=[policy.pk]), {
        "name": "Checkout", "team": rota.team.pk, "repeat": 2, "ack_timeout_minutes": "",
        **step_data({"delay_minutes": 0, "schedules": [rota.pk]})})
    assert response.status_code == 400
    assert entries() == []


# --- Overrides and swaps: they change who is on call ---------------------------------------------

def test_override_created_and_deleted_in_the_portal(client, rota, responder, ann):
    client.force_login(responder)
    response = client.post(reverse("oncall:override-create", args=[rota.pk]), {
        "user": "ann", "start": "2030-03-01T10:00", "end": "2030-03-01T12:00",
        "note": "Dentist"})
    assert response.status_code == 302
    override = Override.objects.get()
    entry = only("override.create")
    assert_from(entry, responder, AuditSource.WEB)
    assert entry.before is None
    assert entry.after | {"created_at": None} == {
        "id": override.pk, "schedule": rota.pk, "user": ann.pk,
        "start": "2030-03-01T09:00:00+00:00", "end": "2030-03-01T11:00:00+00:00",
        "note": "Dentist", "created_by": responder.pk, "created_at": None}
    assert client.post(reverse("oncall:override-delete", args=[override.pk])).status_code == 302
    deleted = only("override.delete")
    assert deleted.object_id == str(override.pk) and deleted.after is None
    assert deleted.before["user"] == ann.pk


def test_refused_override_writes_nothing(client, rota, responder):
    client.force_login(responder)
    response = client.post(reverse("oncall:override-create", args=[rota.pk]), {
        "user": "ann", "start": "2030-03-01T10:00", "end": "2030-06-01T10:00"})
    assert response.status_code == 400
    assert entries() == []


def _own_future_shift(schedule, user):
    now = timezone.now()
    return next(s for s in schedules.final_shifts(schedule, now + timedelta(days=1),
                                                  now + timedelta(days=5)) if s.who == user)


def test_swap_offer_take_and_undo_each_write_an_entry(client, rota, responder, ann):
    shift = _own_future_shift(rota, ann)
    local = (shift.start + timedelta(hours=1)).astimezone(rota.tz)
    client.force_login(ann)
    response = client.post(reverse("oncall:swap-offer", args=[rota.pk]), {
        "start": local.strftime("%Y-%m-%dT%H:00"),
        "end": (local + timedelta(hours=2)).strftime("%Y-%m-%dT%H:00")})
    assert response.status_code == 302, response.content.decode()[:2000]
    swap = Swap.objects.get()
    offered = only("swap.offer")
    assert_from(offered, ann, AuditSource.WEB)
    assert offered.after["offered_by"] == ann.pk and offered.after["state"] == "offered"

    client.force_login(responder)
    assert client.post(reverse("oncall:swap-take", args=[swap.pk])).status_code == 302
    swap.refresh_from_db()
    taken = only("swap.take")
    assert_from(taken, responder, AuditSource.WEB)
    assert taken.before == {"state": "offered", "taken_by": None, "override": None}
    assert taken.after == {"state": "taken", "taken_by": responder.pk,
                           "override": swap.override_id}
    assert entries("override.create") == []  # the swap's own override is in its entry

    client.force_login(ann)
    assert client.post(reverse("oncall:swap-undo", args=[swap.pk])).status_code == 302
    undone = only("swap.undo")
    assert_from(undone, ann, AuditSource.WEB)
    assert undone.after == {"state": "withdrawn", "taken_by": None, "override": None}


def test_refused_swap_take_writes_nothing(client, rota, ann):
    shift = _own_future_shift(rota, ann)
    swap = services.offer_swap(rota, by=ann, start=shift.start, end=shift.end)
    before = len(entries())
    client.force_login(ann)
    assert client.post(reverse("oncall:swap-take", args=[swap.pk])).status_code == 409
    assert len(entries()) == before


# --- The admin ------------------------------------------------------------------------------------

def test_admin_contact_method_keeps_slack_urls_secret(client, superuser, responder):
    response = admin_post(client, reverse("admin:oncall_contactmethod_add"), {
        "user": responder.pk, "kind": "slack", "address": SLACK_URL, "label": "ops",
        "enabled": "on"})
    assert response.status_code == 302
    method = ContactMethod.objects.get()
    created = only("contact_method.create")
    assert_from(created, superuser, AuditSource.ADMIN)
    assert created.after["address"] == SECRET and created.after["user"] == responder.pk
    assert created.secrets_changed == ["address"]
    assert created.object_repr == "Slack-style webhook of responder"
    assert SLACK_URL not in serialized(created)

    response = admin_post(client, reverse("admin:oncall_contactmethod_change",
                                          args=[method.pk]), {
        "user": responder.pk, "kind": "slack", "address": SLACK_URL_2, "label": "ops",
        "enabled": "on"})
    assert response.status_code == 302
    rotated = only("contact_method.update")
    assert rotated.before == rotated.after == {}
    assert rotated.secrets_changed == ["address"]
    assert SLACK_URL not in serialized(rotated) and SLACK_URL_2 not in serialized(rotated)


def test_admin_email_contact_and_its_rule(client, superuser, responder):
    url = reverse("admin:oncall_contactmethod_add")
    prefix = client.get(url).context["inline_admin_formsets"][0].formset.prefix
    response = admin_post(client, url, {
        "user": responder.pk, "kind": "email", "address": "pager@example.test",
        "enabled": "on", f"{prefix}-TOTAL_FORMS": 1, f"{prefix}-0-delay_minutes": 5})
    assert response.status_code == 302
    method = only("contact_method.create")
    # An email address is personal data, not a credential: it is kept like any field.
    assert method.after["address"] == "pager@example.test" and method.secrets_changed == []
    rule = only("notification_rule.create")
    assert rule.after["delay_minutes"] == 5
    assert rule.object_repr == "Email of responder after 5 min"
    assert_from(rule, superuser, AuditSource.ADMIN)


def test_admin_rule_of_a_webhook_does_not_name_its_url(client, superuser, responder):
    method = ContactMethod.objects.create(user=responder, kind="slack", address=SLACK_URL)
    response = admin_post(client, reverse("admin:oncall_notificationrule_add"), {
        "contact_method": method.pk, "delay_minutes": 10})
    assert response.status_code == 302
    entry = only("notification_rule.create")
    assert SLACK_URL not in serialized(entry)
    rule = NotificationRule.objects.get()
    response = client.post(reverse("admin:oncall_notificationrule_delete", args=[rule.pk]),
                           {"post": "yes"})
    assert response.status_code == 302
    assert only("notification_rule.delete").before["delay_minutes"] == 10


def test_admin_refused_contact_method_writes_nothing(client, superuser, responder, settings):
    settings.RELAY_OUTBOUND_ALLOW = ()
    response = admin_post(client, reverse("admin:oncall_contactmethod_add"), {
        "user": responder.pk, "kind": "webhook", "address": "http://127.0.0.1:5432/",
        "enabled": "on"})
    assert response.status_code == 200
    assert entries() == []


def test_admin_policy_step_entry_holds_its_targets(client, superuser, responder):
    url = reverse("admin:oncall_escalationpolicy_add")
    prefix = client.get(url).context["inline_admin_formsets"][0].formset.prefix
    response = admin_post(client, url, {
        "name": "Checkout", "repeat": 1, f"{prefix}-TOTAL_FORMS": 1,
        f"{prefix}-0-position": 0, f"{prefix}-0-delay_minutes": 5,
        f"{prefix}-0-users": [responder.pk]})
    assert response.status_code == 302
    policy = EscalationPolicy.objects.get()
    assert only("escalation_policy.create").after["repeat"] == 1
    step = only("escalation_step.create")
    assert_from(step, superuser, AuditSource.ADMIN)
    assert step.after["users"] == [responder.pk] and step.after["policy"] == policy.pk


def test_admin_layer_change_and_schedule_delete(client, superuser, rota, ann):
    layer = add_layer(rota, name="Nights", rank=1, unit="days")  # no members: no inline rows
    response = admin_post(client, reverse("admin:oncall_layer_change", args=[layer.pk]), {
        "schedule": rota.pk, "name": "Weeknights", "rank": 1, "start_date": "2026-01-05",
        "handoff_time": "09:00", "turn_unit": "days", "turn_length": 2,
        "restrict_weekdays": "[]"})
    assert response.status_code == 302, response.context["errors"]
    entry = only("layer.update")
    assert_from(entry, superuser, AuditSource.ADMIN)
    assert entry.before == {"name": "Nights", "turn_length": 1}
    assert entry.after == {"name": "Weeknights", "turn_length": 2}

    token = rota.calendar_token
    response = client.post(reverse("admin:oncall_schedule_delete", args=[rota.pk]),
                           {"post": "yes"})
    assert response.status_code == 302
    deleted = only("schedule.delete")
    assert deleted.object_id == str(rota.pk) and deleted.after is None
    assert deleted.before["calendar_token"] == SECRET
    assert [layer["name"] for layer in deleted.before["layers"]] == ["Weeknights", "Primary"]
    assert token not in serialized(deleted)


def test_admin_team_change_names_its_lead_and_delete(client, superuser, ann):
    team = make_team("Payments")
    response = admin_post(client, reverse("admin:oncall_team_change", args=[team.pk]), {
        "name": "Payments core", "slug": "payments", "description": "Cards and refunds",
        "group": team.group_id, "lead": ann.pk})
    assert response.status_code == 302, response.context["errors"]
    entry = only("team.update")
    assert_from(entry, superuser, AuditSource.ADMIN)
    assert entry.before == {"name": "Payments", "description": "", "lead": None}
    assert entry.after == {"name": "Payments core", "description": "Cards and refunds",
                           "lead": ann.pk}

    response = client.post(reverse("admin:oncall_team_delete", args=[team.pk]), {"post": "yes"})
    assert response.status_code == 302
    deleted = only("team.delete")
    assert deleted.object_id == str(team.pk) and deleted.before["name"] == "Payments core"


def test_admin_unchanged_save_writes_nothing(client, superuser):
    policy = make_policy(name="Checkout", repeat=1)
    response = admin_post(client, reverse("admin:oncall_escalationpolicy_change",
                                          args=[policy.pk]), {
        "name": "Checkout", "description": "", "team": "", "repeat": 1,
        "ack_timeout_minutes": ""})
    assert response.status_code == 302
    assert entries() == []


def test_calendar_feed_token_is_never_logged(client, superuser, responder, ann):
    response = admin_post(client, reverse("admin:oncall_calendarfeed_add"),
                          {"user": responder.pk})
    assert response.status_code == 302
    feed = CalendarFeed.objects.get()
    entry = only("calendar_feed.create")
    assert entry.after["token"] == SECRET and entry.secrets_changed == ["token"]
    assert feed.token not in serialized(entry)

    client.force_login(ann)  # My on-call issues ann's feed on first view
    assert client.get(reverse("paging:my-oncall")).status_code == 200
    issued = entries("calendar_feed.create")[-1]
    assert_from(issued, ann, AuditSource.WEB)
    assert CalendarFeed.objects.get(user=ann).token not in serialized(issued)
    client.get(reverse("paging:my-oncall"))
    assert len(entries("calendar_feed.create")) == 2  # issued once


def test_swaps_are_read_only_in_the_admin(client, superuser, rota, ann):
    shift = _own_future_shift(rota, ann)
    swap = services.offer_swap(rota, by=ann, start=shift.start, end=shift.end)
    change = reverse("admin:oncall_swap_change", args=[swap.pk])
    assert client.post(change, {"state": "taken"}).status_code == 403
    assert client.get(reverse("admin:oncall_swap_add")).status_code == 403
    assert Swap.objects.get().state == SwapState.OFFERED


def test_layer_service_call_without_a_request_is_a_system_entry(rota):
    layer = Layer(schedule=rota, name="Weekend", rank=5, start_date=date(2026, 1, 3),
                  handoff_time=rota.layers.get().handoff_time)
    services.save_layer(by=None, layer=layer)
    entry = only("layer.create")
    assert (entry.actor_id, entry.source, entry.ip) == (None, AuditSource.SYSTEM, None)
