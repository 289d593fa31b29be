"""On-call pages: who is on call, the schedule timeline, overrides, swaps, policies, My on-call,
the dashboard panel, escalating by hand; permissions on each."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from incidents.models import EntryKind, EscalationRun, Page, Status
from incidents.paging import escalation
from oncall import policies, schedules, services
from oncall.models import Override, Schedule, Swap, SwapState
from tests.conftest import declare, make_team, make_user
from tests.oncall.conftest import add_contact, add_layer, make_policy, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def rota(responder):
    ann = make_user("ann", "Responders")
    add_contact(ann)
    team = make_team("Checkout", ann, responder)
    schedule = make_schedule(name="Checkout primary", team=team)
    add_layer(schedule, ann, responder, unit="days", start=datetime(2026, 1, 1).date())
    return schedule, ann


def _login(client, user):
    client.force_login(user)
    return client


def test_index_shows_who_is_on_call_per_team(client, rota, responder):
    schedule, ann = rota
    now_on = schedules.who_is_on_call(schedule, timezone.now())
    response = _login(client, responder).get(reverse("oncall:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="team-checkout"' in html
    assert f'<b class="on-call-person">{now_on.username}</b>' in html


def test_oncall_pages_need_a_role(client, rota, outsider):
    schedule, _ = rota
    client.force_login(outsider)
    for url in (reverse("oncall:index"), reverse("oncall:schedule", args=[schedule.pk]),
                reverse("paging:my-oncall")):
        assert client.get(url).status_code == 403
    client.logout()
    assert client.get(reverse("oncall:index")).status_code == 302


def test_schedule_page_renders_timeline_layers_and_warnings(client, rota, responder,
                                                             django_assert_max_num_queries):
    schedule, ann = rota
    add_layer(schedule, ann, name="Office hours", rank=1, restrict_start=time(9),
              restrict_end=time(17))  # the responder has no contact method: a warning
    client.force_login(responder)
    with django_assert_max_num_queries(30):
        response = client.get(reverse("oncall:schedule", args=[schedule.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="row layer"') == 2
    assert html.index("Office hours") < html.index(">Primary<")  # top layer drawn first
    assert "responder is on this schedule but has no working contact method." in html
    assert "ann is on this schedule" not in html
    assert 'class="bar"' in html and "Nobody is on call" not in html


def test_schedule_page_warns_of_gaps(client, responder):
    schedule = make_schedule(name="Business only")
    add_layer(schedule, responder, restrict_start=time(9), restrict_end=time(17))
    html = _login(client, responder).get(reverse("oncall:schedule", args=[schedule.pk])) \
        .content.decode()
    assert "Nobody is on call from" in html


def test_create_override_from_the_schedule_page(client, rota, responder):
    schedule, ann = rota
    client.force_login(responder)
    url = reverse("oncall:override-create", args=[schedule.pk])
    response = client.post(url, {"user": "ann", "start": "2030-03-01T10:00",
                                 "end": "2030-03-01T12:00", "note": "dentist"})
    assert response.status_code == 302
    override = Override.objects.get()
    assert override.user == ann and override.created_by == responder
    assert override.start == datetime(2030, 3, 1, 9, tzinfo=UTC)  # Berlin wall time
    assert schedules.who_is_on_call(schedule, datetime(2030, 3, 1, 10, tzinfo=UTC)) == ann


def test_override_with_bad_input_shows_form_errors(client, rota, responder):
    schedule, _ = rota
    client.force_login(responder)
    url = reverse("oncall:override-create", args=[schedule.pk])
    response = client.post(url, {"user": "ann", "start": "2030-03-01T10:00",
                                 "end": "2030-03-01T09:00"})
    assert response.status_code == 400
    assert "The end must be after the start." in response.content.decode()
    response = client.post(url, {"user": "nobody", "start": "yesterday", "end": ""})
    assert response.status_code == 400 and Override.objects.count() == 0


def test_override_is_post_only_and_not_for_auditors(client, rota, auditor):
    schedule, _ = rota
    client.force_login(auditor)
    url = reverse("oncall:override-create", args=[schedule.pk])
    assert client.get(reverse("oncall:schedule", args=[schedule.pk])).status_code == 200
    assert client.post(url, {"user": "ann", "start": "2030-03-01T10:00",
                             "end": "2030-03-01T12:00"}).status_code == 403
    assert client.get(url).status_code == 405
    assert Override.objects.count() == 0


def _own_future_shift(schedule, user):
    now = timezone.now()
    return next(s for s in schedules.final_shifts(schedule, now + timedelta(days=1),
                                                  now + timedelta(days=5)) if s.who == user)


def test_swap_offer_take_and_undo(client, rota, responder):
    schedule, ann = rota
    shift = _own_future_shift(schedule, ann)
    swap = services.offer_swap(schedule, by=ann, start=shift.start, end=shift.end)
    client.force_login(responder)
    assert client.post(reverse("oncall:swap-take", args=[swap.pk])).status_code == 302
    swap.refresh_from_db()
    assert swap.state == SwapState.TAKEN and swap.override.user == responder
    middle = shift.start + (shift.end - shift.start) / 2
    assert schedules.who_is_on_call(schedule, middle) == responder
    again = client.post(reverse("oncall:swap-take", args=[swap.pk]))
    assert again.status_code == 409
    client.force_login(ann)
    assert client.post(reverse("oncall:swap-undo", args=[swap.pk])).status_code == 302
    swap.refresh_from_db()
    assert swap.state == SwapState.WITHDRAWN and Override.objects.count() == 0
    assert schedules.who_is_on_call(schedule, middle) == ann


def test_only_own_on_call_time_can_be_offered(rota, responder):
    schedule, ann = rota
    shift = _own_future_shift(schedule, ann)
    with pytest.raises(services.ValidationError):
        services.offer_swap(schedule, by=responder, start=shift.start, end=shift.end)


def test_swap_cannot_be_undone_by_a_third_person(client, rota, responder, commander):
    schedule, ann = rota
    shift = _own_future_shift(schedule, ann)
    swap = services.offer_swap(schedule, by=ann, start=shift.start, end=shift.end)
    client.force_login(commander)
    assert client.post(reverse("oncall:swap-undo", args=[swap.pk])).status_code == 409
    assert Swap.objects.get().state == SwapState.OFFERED


def test_policy_page_shows_targets_now_and_warnings(client, rota, responder):
    schedule, ann = rota
    gap = make_schedule(name="Nights")
    add_layer(gap, ann, restrict_start=time(22), restrict_end=time(6))
    policy = make_policy({"schedules": [schedule]}, {"schedules": [gap], "users": [responder]})
    html = _login(client, responder).get(reverse("oncall:policy", args=[policy.pk])) \
        .content.decode()
    assert html.count('class="card step"') == 2
    assert "Nights has nobody on call from" in html
    assert "responder has no working contact method." in html


def test_my_oncall_lists_shifts_and_pages_and_acknowledges(client, rota):
    schedule, ann = rota
    policy = make_policy({"users": [ann]})
    incident = declare(title="Card payments fail", escalation_policy=policy)
    escalation.advance(incident.escalation_run.pk)
    client.force_login(ann)
    html = client.get(reverse("paging:my-oncall")).content.decode()
    assert "Card payments fail" in html and 'class="ack-button"' in html
    assert html.count("Checkout primary</a>:") >= 6  # every other day for two weeks
    response = client.post(reverse("incidents:acknowledge", args=[incident.pk]),
                           {"next": reverse("paging:my-oncall")})
    assert response.status_code == 302 and response["Location"] == reverse("paging:my-oncall")
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert EscalationRun.objects.get(incident=incident).state == "acknowledged"


def test_being_paged_for_a_restricted_incident_grants_access_on_the_timeline(client, rota):
    _, ann = rota
    incident = declare(title="Secret breach", restricted=True,
                       escalation_policy=make_policy({"users": [ann]}))
    html = _login(client, ann).get(reverse("paging:my-oncall")).content.decode()
    assert "Secret breach" not in html  # not paged yet: hidden
    escalation.advance(incident.escalation_run.pk)
    assert Page.objects.filter(user=ann).exists()
    grant = incident.timeline.get(kind=EntryKind.RESTRICTION)
    assert grant.data == {"granted_to": "user", "name": "ann", "reason": "paged"}
    html = client.get(reverse("paging:my-oncall")).content.decode()
    assert "Secret breach" in html
    with transaction.atomic():  # paged again (a later round): no second grant
        escalation._grant_paged(incident, [ann])
    assert incident.timeline.filter(kind=EntryKind.RESTRICTION).count() == 1


def test_dashboard_shows_on_call_now_and_acknowledges_in_place(client, rota, responder):
    schedule, _ = rota
    incident = declare(title="Login slow")
    client.force_login(responder)
    html = client.get(reverse("incidents:dashboard")).content.decode()
    assert 'id="dashboard-on-call"' in html and reverse("oncall:now") in html
    assert f'id="ack-{incident.pk}"' in html
    fragment = client.get(reverse("oncall:now")).content.decode()
    assert "Checkout primary" in fragment and 'class="on-call-person"' in fragment
    response = client.post(reverse("incidents:acknowledge", args=[incident.pk]),
                           {"next": "https://evil.example/"})
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])


def test_on_call_now_fragment_queries_are_constant(client, responder, ann_and_many_schedules,
                                                   django_assert_max_num_queries):
    client.force_login(responder)
    with django_assert_max_num_queries(10):  # session, user, permissions, then five
        response = client.get(reverse("oncall:now"))
    assert response.content.decode().count("<li>") == 12


@pytest.fixture
def ann_and_many_schedules(db):
    ann = make_user("ann", "Responders")
    for i in range(12):
        schedule = make_schedule(name=f"Rota {i}")
        add_layer(schedule, ann, unit="days")
        Override.objects.create(schedule=schedule, user=ann, start=timezone.now(),
                                end=timezone.now() + timedelta(hours=1))


def test_dashboard_offers_no_acknowledge_to_auditors(client, auditor):
    incident = declare(title="Login slow")
    html = _login(client, auditor).get(reverse("incidents:dashboard")).content.decode()
    assert f'id="ack-{incident.pk}"' not in html


def test_escalate_by_hand_from_the_incident_page(client, rota, responder, auditor):
    _, ann = rota
    add_contact(responder)
    policy = make_policy({"users": [ann], "delay": 30}, {"users": [responder]})
    incident = declare(title="DB failover", escalation_policy=policy)
    escalation.advance(incident.escalation_run.pk)
    url = reverse("incidents:escalate", args=[incident.pk])
    assert 'id="escalate-button"' in _login(client, responder).get(
        reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert client.get(url).status_code == 405
    client.force_login(auditor)
    assert client.post(url).status_code == 403
    client.force_login(responder)
    assert client.post(url).status_code == 302
    assert Page.objects.filter(incident=incident, user=responder).exists()


def test_handoff_notices_are_sent_once(rota, smtp_server):
    schedule, _ = rota
    dan = make_user("dan", "Responders")
    add_contact(dan)
    Override.objects.create(schedule=schedule, user=dan, start=timezone.now()
                            + timedelta(minutes=30), end=timezone.now() + timedelta(hours=2))
    assert services.send_handoff_notices() >= 1
    assert services.send_handoff_notices() == 0
    to_dan = [m["Subject"] for m in smtp_server if m["To"] == "dan@example.test"]
    assert len(to_dan) == 1 and to_dan[0].startswith("You are on call for Checkout primary from ")
    later = timezone.now() + timedelta(minutes=31)
    services.send_handoff_notices(now=later)
    assert smtp_server[-1]["Subject"] == "You are on call now for Checkout primary"
    assert smtp_server[-1]["To"] == "dan@example.test"


def test_policy_overview_agrees_with_what_a_run_pages(rota, responder, commander):
    """The policy page computes every step at once; a run resolves each step on its own. Users,
    schedules, a team's schedules, an inactive person and a gap: both must say the same."""
    schedule, ann = rota
    team = make_team("Payments", ann)
    Schedule.objects.filter(pk=schedule.pk).update(team=team)
    nights = make_schedule(name="Nights")
    add_layer(nights, commander, restrict_start=time(22), restrict_end=time(6))
    gone = make_user("gone", "Responders", is_active=False)
    policy = make_policy({"teams": [team], "users": [gone]},
                         {"schedules": [nights, schedule], "users": [responder, ann]})
    now = timezone.now()
    rows = policies.overview(policy, now)
    steps = list(policy.steps.order_by("position"))
    assert [row.step for row in rows] == steps
    for row, step in zip(rows, steps, strict=True):
        expected = policies.targets(step, now)
        assert row.now == expected
        assert row.unreachable == policies.unreachable(expected)
    assert [s.name for s, _ in rows[1].gaps] == ["Nights"]
    assert rows[1].gaps[0][1] == schedules.gaps(nights, now, now + schedules.HORIZON)
