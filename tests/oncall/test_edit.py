"""Editing schedules and escalation policies in the portal: who may, previews that write
nothing, saves through the services, errors beside their fields, the timeline's day ticks and
unique element ids."""

from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from oncall import schedules, services, views
from oncall.models import EscalationPolicy, Layer, LayerMember, Override, Schedule
from tests.conftest import make_team, make_user
from tests.oncall.conftest import add_contact, add_layer, make_policy, make_schedule

pytestmark = pytest.mark.django_db


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


def layer_data(layer: Layer | None = None, **changes) -> dict:
    values = {"layer_id": layer.pk if layer else "", "name": "Primary", "rank": 0,
              "start_date": "2026-01-01", "handoff_time": "09:00", "turn_length": 1,
              "turn_unit": "days", "restrict_start": "", "restrict_end": "",
              "restrict_weekdays": [], "participants": []}
    if layer is not None:
        values.update(name=layer.name, rank=layer.rank, start_date=layer.start_date.isoformat(),
                      handoff_time=layer.handoff_time.strftime("%H:%M"),
                      turn_length=layer.turn_length, turn_unit=layer.turn_unit,
                      participants=[m.user_id for m in layer.members.all()])
    values.update(changes)
    return values


def schedule_data(schedule: Schedule | None, *layers: dict, **changes) -> dict:
    data = {"name": schedule.name if schedule else "New rota",
            "team": schedule.team_id if schedule else "", "time_zone": "Europe/Berlin",
            "description": "", "version": schedules.fingerprint(schedule) if schedule else "",
            "layer-TOTAL_FORMS": len(layers), "layer-INITIAL_FORMS": 0}
    for i, layer in enumerate(layers):
        data.update({f"layer-{i}-{k}": v for k, v in layer.items()})
    data.update(changes)
    return data


def edit_url(schedule):
    return reverse("oncall:schedule-edit", args=[schedule.pk])


def stored_order(schedule):
    return [m.user.username for m in LayerMember.objects.filter(layer__schedule=schedule)
            .select_related("user").order_by("position")]


def field_errors(response, field_id: str) -> str:
    """The text of the field group holding the input `field_id`: its errors sit beside it."""
    html = response.content.decode()
    at = html.index(f'id="{field_id}"')
    return html[html.rindex('<div class="field">', 0, at):at]


# --- Who may edit ------------------------------------------------------------------------------

def test_edit_link_shows_only_to_the_teams_responders(client, rota, responder, auditor):
    client.force_login(responder)
    page = client.get(reverse("oncall:schedule", args=[rota.pk])).content.decode()
    assert f'href="{edit_url(rota)}"' in page
    other = make_user("other", "Responders")
    for user in (other, auditor):
        client.force_login(user)
        page = client.get(reverse("oncall:schedule", args=[rota.pk])).content.decode()
        assert "Edit schedule" not in page


def test_others_cannot_edit(client, rota, auditor, outsider):
    other = make_user("other", "Responders")
    layer = rota.layers.get()
    before = schedules.fingerprint(rota)
    for user in (other, auditor, outsider):
        client.force_login(user)
        assert client.get(edit_url(rota)).status_code == 403
        data = schedule_data(rota, layer_data(layer, participants=[]), name="Taken over")
        assert client.post(edit_url(rota), data).status_code == 403
    assert schedules.fingerprint(rota) == before
    client.force_login(other)
    assert client.get(reverse("oncall:schedule-edit", args=[rota.pk + 99])).status_code == 404


def test_admin_with_the_change_permission_may_edit_any_team(client, rota, admin_user):
    client.force_login(admin_user)
    response = client.post(edit_url(rota), schedule_data(rota, layer_data(rota.layers.get()),
                                                         name="Renamed by admin"))
    assert response.status_code == 302
    rota.refresh_from_db()
    assert rota.name == "Renamed by admin"


def test_index_offers_new_schedule_and_policy_to_team_responders_only(client, rota, responder,
                                                                      auditor):
    client.force_login(responder)
    page = client.get(reverse("oncall:index")).content.decode()
    assert 'id="new-schedule"' in page and 'id="new-policy"' in page
    client.force_login(auditor)
    page = client.get(reverse("oncall:index")).content.decode()
    assert "New schedule" not in page and "New policy" not in page
    assert client.get(reverse("oncall:schedule-new")).status_code == 403


# --- Schedule editor ---------------------------------------------------------------------------

def test_reorder_button_rerenders_in_the_new_order_without_writing(client, rota, responder):
    client.force_login(responder)
    layer = rota.layers.get()
    data = schedule_data(rota, layer_data(layer), op="down:0:0")
    response = client.post(edit_url(rota), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index('aria-label="Move responder up"') < html.index('aria-label="Move ann up"')
    assert stored_order(rota) == ["ann", "responder"]


def test_preview_shows_who_would_be_on_call_and_writes_nothing(client, rota, responder, ann,
                                                               django_assert_max_num_queries):
    client.force_login(responder)
    layer = rota.layers.get()
    now_on = schedules.who_is_on_call(rota, timezone.now())
    before = schedules.fingerprint(rota)
    # Daily turns of two: the other order puts the other person on call today.
    data = schedule_data(rota, layer_data(layer, participants=[responder.pk, ann.pk]),
                         name="Renamed in preview", preview="1")
    with django_assert_max_num_queries(30):
        response = client.post(edit_url(rota), data)
    assert response.status_code == 200
    other = ann if now_on == responder else responder
    assert f'<b id="preview-on-call">{other.username}</b>' in response.content.decode()
    assert 'id="row-final"' in response.content.decode()
    assert schedules.fingerprint(rota) == before
    assert Schedule.objects.get(pk=rota.pk).name == "Checkout primary"


def test_save_writes_through_the_services(client, rota, responder, ann, monkeypatch):
    calls = []
    # The services' one save, which checks each model's rules (full_clean) before writing.
    original = services._save
    monkeypatch.setattr(services, "_save", lambda obj, fields: (
        calls.append(type(obj).__name__), original(obj, fields))[1])
    client.force_login(responder)
    layer = rota.layers.get()
    new = layer_data(None, name="Office hours", rank=1, restrict_start="09:00",
                     restrict_end="17:00", restrict_weekdays=["0", "1", "2", "3", "4"],
                     participants=[ann.pk])
    response = client.post(edit_url(rota), schedule_data(
        rota, layer_data(layer, participants=[responder.pk, ann.pk]), new))
    assert response.status_code == 302
    assert response["Location"] == reverse("oncall:schedule", args=[rota.pk])
    assert [m.user for m in layer.members.order_by("position")] == [responder, ann]
    office = rota.layers.get(name="Office hours")
    assert (office.restrict_start, office.restrict_weekdays) == (time(9), [0, 1, 2, 3, 4])
    assert {"Schedule", "Layer", "LayerMember"} <= set(calls)


def test_layers_can_swap_ranks_and_be_removed(client, rota, responder, ann):
    low = rota.layers.get()
    high = add_layer(rota, ann, name="Nights", rank=1)
    third = add_layer(rota, responder, name="Weekend", rank=2)
    client.force_login(responder)
    response = client.post(edit_url(rota), schedule_data(
        rota, layer_data(low, rank=1), layer_data(high, rank=0)))
    assert response.status_code == 302
    assert dict(rota.layers.values_list("name", "rank")) == {"Primary": 1, "Nights": 0}
    assert not Layer.objects.filter(pk=third.pk).exists()


def test_new_schedule_is_created_for_one_of_my_teams(client, rota, responder, ann):
    elsewhere = make_team("Search")
    client.force_login(responder)
    url = reverse("oncall:schedule-new")
    page = client.get(url).content.decode()
    assert "Checkout" in page and "Search" not in page
    data = schedule_data(None, layer_data(None, participants=[ann.pk]), team=elsewhere.pk)
    response = client.post(url, data)
    assert response.status_code == 400
    assert "Select a valid choice" in field_errors(response, "id_team")
    response = client.post(url, dict(data, team=rota.team_id))
    created = Schedule.objects.get(name="New rota")
    assert response["Location"] == reverse("oncall:schedule", args=[created.pk])
    assert stored_order(created) == ["ann"]


@pytest.mark.parametrize(("layer_changes", "schedule_changes", "field_id", "message"), [
    ({}, {"time_zone": "Mars/Olympus"}, "id_time_zone", "is not a time zone name"),
    ({"turn_length": 0}, {}, "id_layer-0-turn_length",
     "greater than or equal to 1"),
    ({"restrict_end": "17:00"}, {}, "id_layer-0-restrict_end", "Give both ends"),
    ({}, {"name": "Search primary"}, "id_name", "already exists"),
    ({"participants": ["9999999"]}, {}, None, "not an active user"),
    ({"start_date": "0001-01-01"}, {}, "id_layer-0-start_date", ""),
])
def test_bad_input_is_a_400_with_the_error_beside_its_field(
        client, rota, responder, layer_changes, schedule_changes, field_id, message):
    make_schedule(name="Search primary")
    before = schedules.fingerprint(rota)
    client.force_login(responder)
    data = schedule_data(rota, layer_data(rota.layers.get(), **layer_changes),
                         **schedule_changes)
    response = client.post(edit_url(rota), data)
    assert response.status_code == 400
    if field_id:
        assert 'class="errorlist' in field_errors(response, field_id)
    assert message in response.content.decode()
    assert schedules.fingerprint(rota) == before


def test_duplicate_ranks_are_refused_beside_the_rank(client, rota, responder):
    client.force_login(responder)
    response = client.post(edit_url(rota), schedule_data(
        rota, layer_data(rota.layers.get()), layer_data(None, name="Second", rank=0)))
    assert response.status_code == 400
    assert "Another layer has this rank" in field_errors(response, "id_layer-1-rank")


def test_doctored_formset_is_a_400_not_a_500(client, rota, responder):
    client.force_login(responder)
    data = schedule_data(rota, layer_data(rota.layers.get()))
    del data["layer-TOTAL_FORMS"]
    assert client.post(edit_url(rota), data).status_code == 400
    data = schedule_data(rota, layer_data(rota.layers.get()), op="up:99999999999999999999999:x")
    assert client.post(edit_url(rota), data).status_code == 200


def test_a_save_over_a_newer_edit_is_refused(client, rota, responder):
    client.force_login(responder)
    data = schedule_data(rota, layer_data(rota.layers.get(), participants=[]))
    services.save_schedule(by=None, schedule=rota, time_zone="Europe/Paris")  # someone else
    response = client.post(edit_url(rota), data)
    assert response.status_code == 400
    assert "Someone changed this schedule since you opened it" in response.content.decode()
    assert stored_order(rota) == ["ann", "responder"]


# --- Overrides ---------------------------------------------------------------------------------

def test_editor_deletes_an_override(client, rota, responder, ann, auditor):
    start = timezone.now() + timedelta(hours=1)
    override = services.create_override(rota, user=ann, start=start,
                                        end=start + timedelta(hours=2))
    url = reverse("oncall:override-delete", args=[override.pk])
    client.force_login(responder)
    assert client.get(url).status_code == 405
    page = client.get(reverse("oncall:schedule", args=[rota.pk])).content.decode()
    assert f'action="{url}"' in page
    for user in (make_user("other", "Responders"), auditor):
        client.force_login(user)
        assert client.post(url).status_code == 403
    assert Override.objects.filter(pk=override.pk).exists()
    client.force_login(responder)
    response = client.post(url)
    assert response["Location"] == reverse("oncall:schedule", args=[rota.pk])
    assert not Override.objects.filter(pk=override.pk).exists()


# --- Policy editor -----------------------------------------------------------------------------

def policy_data(policy, *steps, **changes) -> dict:
    data = {"name": policy.name if policy else "Checkout urgent",
            "team": policy.team_id if policy else "", "repeat": 0, "ack_timeout_minutes": "",
            "description": "", "step-TOTAL_FORMS": len(steps), "step-INITIAL_FORMS": 0}
    for i, step in enumerate(steps):
        data.update({f"step-{i}-{k}": v for k, v in step.items()})
    data.update(changes)
    return data


def test_policy_is_created_with_ordered_steps(client, rota, responder, ann):
    client.force_login(responder)
    url = reverse("oncall:policy-new")
    data = policy_data(None, {"delay_minutes": 10, "schedules": [rota.pk]},
                       {"delay_minutes": 5, "users": [ann.pk, responder.pk]}, team=rota.team_id)
    response = client.post(url, data)
    policy = EscalationPolicy.objects.get(name="Checkout urgent")
    assert response["Location"] == reverse("oncall:policy", args=[policy.pk])
    first, second = policy.steps.order_by("position")
    assert (first.delay_minutes, list(first.schedules.all())) == (10, [rota])
    assert set(second.users.all()) == {ann, responder}
    page = client.get(response["Location"]).content.decode()
    assert 'id="edit-policy"' in page


def test_policy_steps_reorder_and_save(client, rota, responder, ann):
    policy = make_policy({"users": [ann]}, {"schedules": [rota]}, name="Checkout")
    policy.team = rota.team
    policy.save()
    url = reverse("oncall:policy-edit", args=[policy.pk])
    client.force_login(responder)
    data = policy_data(policy, {"delay_minutes": 5, "users": [ann.pk]},
                       {"delay_minutes": 7, "schedules": [rota.pk]})
    moved = client.post(url, dict(data, op="up:1"))
    assert moved.status_code == 200
    html = moved.content.decode()
    assert 'name="step-0-delay_minutes" value="7"' in html
    assert [list(s.users.all()) for s in policy.steps.order_by("position")] == [[ann], []]
    swapped = policy_data(policy, {"delay_minutes": 7, "schedules": [rota.pk]},
                          {"delay_minutes": 5, "users": [ann.pk]})
    assert client.post(url, swapped).status_code == 302
    first, second = policy.steps.order_by("position")
    assert (list(first.schedules.all()), list(second.users.all())) == ([rota], [ann])


def test_policy_preview_says_whom_each_step_reaches_and_warns_loudly(client, rota, responder,
                                                                     ann):
    nobody = make_schedule(name="Empty rota", team=rota.team)
    client.force_login(responder)
    url = reverse("oncall:policy-new")
    data = policy_data(None, {"delay_minutes": 5, "schedules": [rota.pk]},
                       {"delay_minutes": 5, "schedules": [nobody.pk]}, team=rota.team_id,
                       preview="1")
    response = client.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    on_call = schedules.who_is_on_call(rota, timezone.now())
    assert f"Step 1:\n      <b>{on_call.username}</b>" in html
    assert "NOBODY: this step reaches no one right now" in html
    assert not EscalationPolicy.objects.exists()


def test_step_without_a_target_is_refused_beside_it(client, rota, responder):
    client.force_login(responder)
    response = client.post(reverse("oncall:policy-new"), policy_data(
        None, {"delay_minutes": 5}, team=rota.team_id))
    assert response.status_code == 400
    assert "A step must reach someone" in field_errors(response, "id_step-0-users")
    assert not EscalationPolicy.objects.exists()


def test_others_cannot_edit_a_policy(client, rota, auditor):
    policy = make_policy({"users": [auditor]}, name="Checkout")
    policy.team = rota.team
    policy.save()
    url = reverse("oncall:policy-edit", args=[policy.pk])
    for user in (make_user("other", "Responders"), auditor):
        client.force_login(user)
        assert client.post(url, policy_data(policy, {"delay_minutes": 5,
                                                     "users": [user.pk]})).status_code == 403
        page = client.get(reverse("oncall:policy", args=[policy.pk])).content.decode()
        assert "Edit policy" not in page


# --- Timeline ----------------------------------------------------------------------------------

def test_day_labels_fall_on_local_midnight():
    tz = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 1, 13, tzinfo=UTC)  # spans the change to daylight saving time
    end = start + timedelta(days=14)
    ticks = views._days(tz, start, end)
    assert len(ticks) == 14
    for tick in ticks:
        local = tick["at"].astimezone(tz)
        assert (local.hour, local.minute) == (0, 0)
        assert tick["left"] == round((tick["at"] - start) / (end - start) * 100, 3)
    assert ticks[0]["label"] == "Mon 02 Mar"
    assert ticks[0]["at"] == datetime(2026, 3, 2, 5, tzinfo=UTC)
    assert ticks[7]["at"] == datetime(2026, 3, 9, 4, tzinfo=UTC)  # after the change: EDT


def test_schedule_page_places_day_labels_at_local_midnight(client, responder):
    schedule = make_schedule(name="East", tz="America/New_York")
    client.force_login(responder)
    html = client.get(reverse("oncall:schedule", args=[schedule.pk])).content.decode()
    start, end = views._window(timezone.now())
    first = views._days(schedule.tz, start, end)[0]
    assert (f'<span class="day" style="left: {first["left"]}%"><span class="long">'
            f'{first["label"]}</span>') in html


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = []

    def handle_starttag(self, tag, attrs):
        self.ids += [value for name, value in attrs if name == "id"]


def _duplicate_ids(html: str) -> set:
    parser = _Ids()
    parser.feed(html)
    return {i for i in parser.ids if parser.ids.count(i) > 1}


def test_element_ids_are_unique_on_every_oncall_page(client, rota, responder, ann):
    add_layer(rota, ann, name="Nights", rank=1)
    start = timezone.now() + timedelta(hours=1)
    services.create_override(rota, user=ann, start=start, end=start + timedelta(hours=2))
    policy = make_policy({"schedules": [rota]}, name="Checkout")
    policy.team = rota.team
    policy.save()
    client.force_login(responder)
    preview = client.post(edit_url(rota), schedule_data(
        rota, layer_data(rota.layers.get(rank=0)), layer_data(rota.layers.get(rank=1)),
        preview="1"))
    pages = [client.get(reverse("oncall:schedule", args=[rota.pk])), client.get(edit_url(rota)),
             preview, client.get(reverse("oncall:policy-edit", args=[policy.pk])),
             client.get(reverse("oncall:index"))]
    for response in pages:
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="' in html
        assert _duplicate_ids(html) == set(), response.request["PATH_INFO"]
