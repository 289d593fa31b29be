import secrets
from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.forms import add_errors, keys
from oncall import forms, ical, permissions, policies, rotation, schedules, services
from oncall.models import (
    CalendarFeed,
    EscalationPolicy,
    Override,
    Schedule,
    Swap,
    SwapState,
    Team,
)

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
        "can_create_schedule": permissions.can_create(request.user, Schedule),
        "can_create_policy": permissions.can_create(request.user, EscalationPolicy),
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


def _override_bars(overrides, start, end):
    return [dict(b, note=o.note) for o, b in zip(overrides, _bars(
        [rotation.Shift(o.user, max(o.start, start), min(o.end, end)) for o in overrides],
        start, end), strict=True)]


def _days(tz, start, end):
    """A label at each local midnight (in the schedule's time zone) inside the window, placed
    by percent of the window."""
    span = (end - start).total_seconds()
    day = rotation.to_wall(start, tz).date()
    ticks = []
    while (midnight := rotation.to_instant(datetime.combine(day, time(0)), tz)) < end:
        if midnight >= start:
            local = midnight.astimezone(tz)
            ticks.append({"label": local.strftime("%a %d %b"), "short": local.strftime("%d"),
                          "at": midnight, "minor": len(ticks) % 2 == 1,
                          "left": round((midnight - start).total_seconds() / span * 100, 3)})
        day += timedelta(days=1)
    return ticks


def _timeline(schedule, spec, start, end, now) -> dict:
    """The timeline of a spec (stored or a draft): day ticks, the final row, a row per layer
    (top first) and who is on call now."""
    final, layers = schedules.spec_shifts(spec, start, end)
    return {
        "days": _days(spec.tz, start, end), "final": _bars(final, start, end),
        "layers": [(layer, _bars(shifts, start, end)) for layer, shifts in reversed(layers)],
        "on_call": next((s.who for s in final if s.start <= now < s.end), None),
        "people": {s.who for s in final} | {s.who for _, shifts in layers for s in shifts},
    }


@login_required
@require_GET
def schedule_detail(request, pk):
    _require_view(request)
    schedule = get_object_or_404(Schedule.objects.select_related("team"), pk=pk)
    return render(request, "oncall/schedule.html", _schedule_context(request, schedule))


def _schedule_context(request, schedule, override_form=None, swap_form=None):
    now = timezone.now()
    start, end = _window(now)
    timeline = _timeline(schedule, schedules.spec_for(schedule, start, end), start, end, now)
    overrides = list(schedule.overrides.filter(end__gt=start, start__lt=end)
                     .select_related("user").order_by("start"))
    participants = timeline["people"]
    can_override = permissions.can_override(request.user)
    return {
        **timeline, "schedule": schedule, "start": start, "end": end,
        "overrides": overrides,
        "override_bars": _override_bars(overrides, start, end),
        "gaps": schedules.gaps(schedule, now, now + schedules.HORIZON),
        "unreachable": policies.unreachable(sorted(participants, key=lambda u: u.username)),
        "can_edit": permissions.can_edit(request.user, schedule),
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
                  {"policy": policy, "rows": policies.overview(policy, timezone.now()),
                   "can_edit": permissions.can_edit(request.user, policy)})


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


# --- Editing schedules and policies ------------------------------------------------------------

def _require_edit(request, obj) -> None:
    allowed = (permissions.can_edit(request.user, obj) if obj.pk is not None
               else permissions.can_create(request.user, type(obj)))
    if not allowed:
        raise PermissionDenied("Only the responders of its team can change this.")


def _editing(request, model, pk):
    """The schedule or policy to edit (a new one without pk), or 404/403."""
    _require_view(request)
    obj = get_object_or_404(model, pk=pk) if pk is not None else model()
    _require_edit(request, obj)
    return obj


def _op(data) -> tuple[str, list[int]]:
    """A row button's "verb:i[:j]" value, e.g. "up:0:2" (layer 0, person 2 up)."""
    verb, _, rest = (data.get("op") or "").partition(":")
    return verb, keys(rest.split(":")) if rest else []


def _move(items: list, index: int, verb: str) -> None:
    if not 0 <= index < len(items):
        return
    if verb == "up" and index > 0:
        items[index - 1], items[index] = items[index], items[index - 1]
    elif verb == "down" and index + 1 < len(items):
        items[index + 1], items[index] = items[index], items[index + 1]
    elif verb == "drop":
        items.pop(index)


LAYER_FIELDS = list(forms.LayerForm.base_fields)


def _new_layer_row(layers: list[dict]) -> dict:
    ranks = keys(value for row in layers for value in row["rank"])
    return {"name": [f"Layer {len(layers) + 1}"], "rank": [str(max(ranks, default=-1) + 1)],
            "start_date": [timezone.localdate().isoformat()], "handoff_time": ["09:00"],
            "turn_length": ["1"], "turn_unit": ["weeks"]}


def _schedule_op(data):
    """Apply a layer or participant button to the posted data."""
    layers = forms.rows(data, "layer", LAYER_FIELDS)
    verb, args = _op(data)
    row = layers[args[0]] if args and args[0] < len(layers) else None
    if verb == "add-layer" and len(layers) < forms.MAX_ROWS:
        layers.append(_new_layer_row(layers))
    elif verb == "remove-layer" and row is not None:
        layers.remove(row)
    elif verb == "add-person" and row is not None:
        row["participants"] = row["participants"] + row["add_person"][:1]
        row["add_person"] = []
    elif verb in ("up", "down", "drop") and row is not None and len(args) == 2:
        _move(row["participants"], args[1], verb)
    return forms.with_rows(data, "layer", layers)


def _layers_initial(schedule) -> list[dict]:
    if schedule.pk is None:
        return [{"name": "Primary", "rank": 0, "start_date": timezone.localdate(),
                 "handoff_time": "09:00", "turn_length": 1, "turn_unit": "weeks"}]
    return [{"layer_id": layer.pk, "name": layer.name, "rank": layer.rank,
             "start_date": layer.start_date, "handoff_time": layer.handoff_time,
             "turn_length": layer.turn_length, "turn_unit": layer.turn_unit,
             "restrict_start": layer.restrict_start, "restrict_end": layer.restrict_end,
             "restrict_weekdays": layer.restrict_weekdays,
             "participants": [m.user_id for m in layer.members.all()]}
            for layer in schedule.layers.order_by("-rank").prefetch_related("members")]


@login_required
@require_http_methods(["GET", "POST"])
def schedule_edit(request, pk=None):
    schedule = _editing(request, Schedule, pk)
    heading = f"Edit {schedule.name}" if pk else "New schedule"  # before the form renames it
    teams = permissions.editable_teams(request.user, Schedule)
    if request.method == "GET":
        form = forms.ScheduleForm(instance=schedule, teams=teams,
                                  initial={"version": schedules.fingerprint(schedule)})
        layers = forms.LayerFormSet(prefix="layer", schedule=schedule,
                                    initial=_layers_initial(schedule))
        return _render_schedule_editor(request, heading, schedule, form, layers)
    data = _schedule_op(request.POST) if "op" in request.POST else request.POST
    form = forms.ScheduleForm(data, instance=schedule, teams=teams)
    layers = forms.LayerFormSet(data, prefix="layer", schedule=schedule)
    valid = all([form.is_valid(), layers.is_valid()])  # both, for every error at once
    preview = None
    if valid and "preview" in data:
        preview = _schedule_preview(schedule, layers)
    elif valid and "op" not in data:
        try:
            saved = _save_schedule(request, schedule, form, layers)
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect("oncall:schedule", pk=saved.pk)
    return _render_schedule_editor(request, heading, schedule, form, layers, preview)


def _save_schedule(request, schedule, form, layers):
    fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
    rows = [(row.instance, {name: row.cleaned_data[name] for name in row.Meta.fields},
             row.cleaned_data["participants"]) for row in layers.forms]
    return services.edit_schedule(by=request.user, schedule=schedule, fields=fields,
                                  layers=rows, version=form.cleaned_data["version"])


def _schedule_preview(schedule, layers) -> dict:
    """The final schedule of the unsaved layers (with the stored overrides): nothing is
    written."""
    now = timezone.now()
    start, end = _window(now)
    overrides = (list(schedule.overrides.filter(end__gt=start, start__lt=end)
                      .select_related("user")) if schedule.pk else [])
    spec = schedules.draft_spec(schedule, [
        (row.instance, [u.pk for u in row.cleaned_data["participants"]])
        for row in layers.forms], overrides)
    return {**_timeline(schedule, spec, start, end, now),
            "override_bars": _override_bars(overrides, start, end)}


def _render_editor(request, template, form, formset, **context):
    """An editor page: 400 while the form or its rows have errors, shown beside their fields."""
    status = 400 if form.errors or any(formset.errors) or formset.non_form_errors() else 200
    return render(request, template, {"form": form, **context}, status=status)


def _render_schedule_editor(request, heading, schedule, form, layers, preview=None):
    return _render_editor(request, "oncall/schedule_edit.html", form, layers, heading=heading,
                          schedule=schedule, layers=layers, preview=preview)


STEP_FIELDS = list(forms.StepForm.base_fields)


def _policy_op(data):
    steps = forms.rows(data, "step", STEP_FIELDS)
    verb, args = _op(data)
    if verb == "add-step" and len(steps) < forms.MAX_ROWS:
        steps.append({"delay_minutes": ["5"]})
    elif verb in ("up", "down", "drop") and len(args) == 1:
        _move(steps, args[0], verb)
    return forms.with_rows(data, "step", steps)


def _steps_initial(policy) -> list[dict]:
    if policy.pk is None:
        return []
    return [{"delay_minutes": step.delay_minutes, "users": [u.pk for u in step.users.all()],
             "schedules": [s.pk for s in step.schedules.all()],
             "teams": [t.pk for t in step.teams.all()]}
            for step in policy.steps.order_by("position").prefetch_related(
                "users", "schedules", "teams")]


@login_required
@require_http_methods(["GET", "POST"])
def policy_edit(request, pk=None):
    policy = _editing(request, EscalationPolicy, pk)
    heading = f"Edit {policy.name}" if pk else "New escalation policy"
    teams = permissions.editable_teams(request.user, EscalationPolicy)
    if request.method == "GET":
        form = forms.PolicyForm(instance=policy, teams=teams)
        steps = forms.StepFormSet(prefix="step", initial=_steps_initial(policy))
        return _render_policy_editor(request, heading, policy, form, steps)
    data = _policy_op(request.POST) if "op" in request.POST else request.POST
    form = forms.PolicyForm(data, instance=policy, teams=teams)
    steps = forms.StepFormSet(data, prefix="step")
    valid = all([form.is_valid(), steps.is_valid()])
    preview = None
    if valid and "preview" in data:
        preview = _policy_preview(steps)
    elif valid and "op" not in data:
        try:
            saved = services.edit_policy(
                by=request.user, policy=policy,
                fields={name: form.cleaned_data[name] for name in form.Meta.fields},
                steps=[({"delay_minutes": row.cleaned_data["delay_minutes"]},
                        {name: row.cleaned_data[name] for name in ("users", "schedules", "teams")})
                       for row in steps.forms])
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect("oncall:policy", pk=saved.pk)
    return _render_policy_editor(request, heading, policy, form, steps, preview)


def _policy_preview(steps) -> list[dict]:
    """Whom each unsaved step reaches right now (its schedules resolved to who is on call)."""
    now = timezone.now()
    result = []
    for row in steps.forms:
        people = policies.resolve_targets(
            {name: [obj.pk for obj in row.cleaned_data[name]]
             for name in ("users", "schedules", "teams")}, now)
        result.append({"people": people, "unreachable": policies.unreachable(people),
                       "delay": row.cleaned_data["delay_minutes"]})
    return result


def _render_policy_editor(request, heading, policy, form, steps, preview=None):
    return _render_editor(request, "oncall/policy_edit.html", form, steps, heading=heading,
                          policy=policy, steps=steps, preview=preview)


@login_required
@require_POST
def override_delete(request, pk):
    _require_view(request)
    override = get_object_or_404(Override.objects.select_related("schedule"), pk=pk)
    _require_edit(request, override.schedule)
    services.delete_configuration(by=request.user, obj=override)
    return redirect("oncall:schedule", pk=override.schedule_id)
