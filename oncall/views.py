import secrets
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from config.forms import add_errors
from oncall import forms, ical, permissions, policies, schedules, services
from oncall.models import CalendarFeed, EscalationPolicy, Schedule, Swap, SwapState, Team

# Calendar apps show what is coming and what just happened; the window starts at a midnight
# (UTC) so an event's start does not drift with the moment of the fetch.
FEED_PAST = timedelta(days=7)
FEED_FUTURE = timedelta(days=56)
TIMELINE_DAYS = 14


def feed_window(now):
    start = (now - FEED_PAST).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + FEED_PAST + FEED_FUTURE


def _require_view(request) -> None:
    if not permissions.can_view(request.user):
        raise PermissionDenied("Your account has no role yet; ask an admin to add you to one.")


def _require_override(request) -> None:
    if not permissions.can_override(request.user):
        raise PermissionDenied("Your role can read schedules but not change them.")


# --- Pages -------------------------------------------------------------------------------------

@login_required
@require_GET
def index(request):
    _require_view(request)
    now_on_call = schedules.on_call_now()
    by_team: dict = {}
    for schedule, user in now_on_call:
        by_team.setdefault(schedule.team, []).append((schedule, user))
    teams = Team.objects.select_related("lead").order_by("name")
    return render(request, "oncall/index.html", {
        "teams": [(team, by_team.get(team, [])) for team in teams],
        "unowned": by_team.get(None, []),
        "policies": EscalationPolicy.objects.select_related("team").order_by("name"),
    })


@login_required
@require_GET
def now(request):
    """The "on call now" list as a fragment (the dashboard loads it with htmx)."""
    _require_view(request)
    return render(request, "oncall/partials/_on_call_now.html",
                  {"pairs": schedules.on_call_now()})


def _window(now):
    start = now.replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=TIMELINE_DAYS)


def _bars(shifts, start, end):
    """Shifts as positioned bars (percent of the window) for the server-rendered timeline."""
    span = (end - start).total_seconds()
    return [{"who": s.who.get_username(), "start": s.start, "end": s.end,
             "left": round((s.start - start).total_seconds() / span * 100, 3),
             "width": round((s.end - s.start).total_seconds() / span * 100, 3)} for s in shifts]


def _days(schedule, start):
    tz = schedule.tz
    return [{"label": (start + timedelta(days=i)).astimezone(tz).strftime("%a %d %b"),
             "left": round(i / TIMELINE_DAYS * 100, 3)} for i in range(TIMELINE_DAYS)]


@login_required
@require_GET
def schedule_detail(request, pk):
    _require_view(request)
    schedule = get_object_or_404(Schedule.objects.select_related("team"), pk=pk)
    return render(request, "oncall/schedule.html", _schedule_context(request, schedule))


def _schedule_context(request, schedule, override_form=None, swap_form=None):
    now = timezone.now()
    start, end = _window(now)
    final = schedules.final_shifts(schedule, start, end)
    layers = schedules.layer_shifts(schedule, start, end)
    overrides = list(schedule.overrides.filter(end__gt=start, start__lt=end)
                     .select_related("user").order_by("start"))
    participants = {s.who for s in final} | {s.who for _, shifts in layers for s in shifts}
    can_override = permissions.can_override(request.user)
    return {
        "schedule": schedule, "start": start, "end": end, "days": _days(schedule, start),
        "final": _bars(final, start, end),
        "layers": [(layer, _bars(shifts, start, end)) for layer, shifts in layers],
        "overrides": overrides,
        "override_bars": [dict(b, note=o.note) for o, b in zip(overrides, _bars(
            [schedules.rotation.Shift(o.user, max(o.start, start), min(o.end, end))
             for o in overrides], start, end), strict=True)],
        "gaps": schedules.gaps(schedule, now, now + schedules.HORIZON),
        "unreachable": policies.unreachable(sorted(participants, key=lambda u: u.username)),
        "on_call": schedules.who_is_on_call(schedule, now),
        "swaps": Swap.objects.filter(schedule=schedule, end__gt=now).exclude(
            state=SwapState.WITHDRAWN).select_related("offered_by", "taken_by"),
        "can_override": can_override,
        "override_form": override_form or forms.OverrideForm(schedule=schedule),
        "swap_form": swap_form or forms.SwapForm(schedule=schedule),
        "calendar_url": request.build_absolute_uri(
            reverse("oncall:schedule-calendar", args=[schedule.pk])
            + f"?token={schedule.calendar_token}"),
    }


def _schedule_form_view(form_class, apply, form_name):
    """A POST on a schedule: validate, call the service, back to the schedule page; errors are
    shown in place with 400."""

    @login_required
    @require_POST
    def view(request, pk):
        _require_override(request)
        schedule = get_object_or_404(Schedule, pk=pk)
        form = form_class(request.POST, schedule=schedule)
        if form.is_valid():
            try:
                apply(schedule, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_errors(form, error)
            else:
                return redirect("oncall:schedule", pk=schedule.pk)
        return render(request, "oncall/schedule.html",
                      _schedule_context(request, schedule, **{form_name: form}), status=400)

    return view


override_create = _schedule_form_view(forms.OverrideForm, services.create_override,
                                      "override_form")
swap_offer = _schedule_form_view(forms.SwapForm, services.offer_swap, "swap_form")


def _swap_action(request, pk, action):
    _require_override(request)
    swap = get_object_or_404(Swap, pk=pk)
    try:
        action(swap, by=request.user)
    except services.SwapError as error:
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    return redirect("oncall:schedule", pk=swap.schedule_id)


@login_required
@require_POST
def swap_take(request, pk):
    return _swap_action(request, pk, services.take_swap)


@login_required
@require_POST
def swap_undo(request, pk):
    return _swap_action(request, pk, services.undo_swap)


@login_required
@require_GET
def policy_detail(request, pk):
    _require_view(request)
    policy = get_object_or_404(EscalationPolicy.objects.select_related("team"), pk=pk)
    return render(request, "oncall/policy.html",
                  {"policy": policy, "rows": policies.overview(policy, timezone.now())})


# --- Calendar feeds ----------------------------------------------------------------------------

def _check_token(given: str | None, expected: str) -> None:
    """Feeds are fetched by calendar apps that cannot log in; the URL's token is the secret.
    A wrong token looks exactly like a missing feed."""
    if not given or not secrets.compare_digest(given, expected):
        raise Http404("No such calendar.")


def _ics(body: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@require_GET
def schedule_calendar(request, pk: int):
    schedule = get_object_or_404(Schedule, pk=pk)
    _check_token(request.GET.get("token"), schedule.calendar_token)
    now = timezone.now()
    shifts = schedules.final_shifts(schedule, *feed_window(now))
    events = [(s, f"On call: {s.who.get_username()} ({schedule.name})") for s in shifts]
    return _ics(ical.calendar(f"On call · {schedule.name}", events, now),
                f"schedule-{schedule.pk}.ics")


@require_GET
def user_calendar(request, pk: int):
    feed = get_object_or_404(CalendarFeed.objects.select_related("user"), user_id=pk)
    _check_token(request.GET.get("token"), feed.token)
    now = timezone.now()
    events = [(shift, f"On call: {schedule.name}")
              for schedule, shift in schedules.shifts_of(feed.user, *feed_window(now))]
    events = [(schedules.rotation.Shift(feed.user, s.start, s.end), label)
              for s, label in events]
    name = feed.user.get_full_name() or feed.user.get_username()
    return _ics(ical.calendar(f"My on-call · {name}", events, now), f"oncall-{pk}.ics")
