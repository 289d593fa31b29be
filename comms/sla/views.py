from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from comms.models import BusinessCalendar, ClockPause, SlaClock, TierPolicy
from comms.sla import forms, present, reports, services
from comms.sla.forms import PauseForm
from config.errors import DomainError
from config.forms import add_errors
from incidents import permissions
from incidents.models import CustomerTier, Severity


def panel_context(user, incident, form=None) -> dict:
    """Everything the SLA panel shows, in a constant number of queries."""
    now = timezone.now()
    rows = list(SlaClock.objects.filter(incident=incident, replaced_at=None)
                .select_related("customer", "tier").order_by("key", "-kind"))
    pauses = list(ClockPause.objects.filter(incident=incident).order_by("started_at"))
    spans = [(p.started_at, p.ended_at) for p in pauses]
    calendars = services.calendars_for(rows)
    views = [present.describe(c, now, calendars.get(c.calendar_id), spans) for c in rows]
    open_pause = next((p for p in pauses if p.ended_at is None), None)
    return {
        "incident": incident,
        "clocks": views,
        "open_pause": open_pause,
        "can_pause": incident.is_open and services.may_pause(user, incident),
        "pause_form": form or PauseForm(),
    }


def _render(request, incident, form=None, status=200, refusal=""):
    context = {**panel_context(request.user, incident, form), "refusal": refusal}
    template = "comms/sla/incident_panel.html"
    if request.htmx:
        template += "#sla-panel"
    return render(request, template, context, status=status)


@login_required
@require_GET
def incident_panel(request, number):
    """The incident page's SLA panel (loaded by htmx beside the timeline); without JavaScript,
    a page of its own."""
    incident = permissions.get_visible_incident(request.user, number)
    return _render(request, incident)


def _changed(request, incident):
    if not request.htmx:
        return redirect("sla:incident-panel", number=incident.pk)
    response = _render(request, incident)
    response["HX-Trigger"] = "relay:changed"
    return response


@login_required
@require_POST
def pause(request, number):
    incident = permissions.get_visible_incident(request.user, number)
    if not services.may_pause(request.user, incident):
        raise PermissionDenied("You may not pause this incident's SLA clocks.")
    form = PauseForm(request.POST)
    if services.open_pause(incident):
        # Someone paused them meanwhile: say so, whatever the reason typed (the panel now shows
        # the resume button, not the reason field an error would sit beside).
        return _render(request, incident, status=400,
                       refusal="The clocks are already paused; resume them first.")
    if form.is_valid():
        try:
            services.pause(incident, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            return _changed(request, incident)
    return _render(request, incident, form, status=400)


@login_required
@require_POST
def resume(request, number):
    incident = permissions.get_visible_incident(request.user, number)
    if not services.may_pause(request.user, incident):
        raise PermissionDenied("You may not resume this incident's SLA clocks.")
    try:
        services.resume(incident, by=request.user)
    except DomainError as error:
        return _render(request, incident, status=400, refusal=error.message)
    return _changed(request, incident)


# --- The SLA page ---------------------------------------------------------------------------------

VIEW_PERM = "comms.view_slaclock"
SETTINGS_PERM = "comms.change_tierpolicy"


@login_required
@require_GET
def index(request):
    """Open clocks by time left, and compliance per tier and customer over a period."""
    if not request.user.has_perm(VIEW_PERM):
        raise PermissionDenied("Your account has no role yet; ask an admin to add you to one.")
    form = forms.PeriodForm(request.GET or None)
    chosen = form.cleaned_data if form.is_valid() else {}
    start, end = reports.period(chosen.get("start"), chosen.get("end"), timezone.now().date())
    if not form.is_bound:
        form = forms.PeriodForm(initial={"start": start, "end": end})
    now = timezone.now()
    rows = reports.open_clocks(request.user)
    calendars = services.calendars_for(rows)
    context = {
        "form": form, "start": start, "end": end,
        "open_clocks": [present.describe(c, now, calendars.get(c.calendar_id)) for c in rows],
        "open_limit": reports.OPEN_LIMIT,
        "compliance": reports.compliance(request.user, start, end),
        "can_configure": request.user.has_perm(SETTINGS_PERM),
    }
    return render(request, "comms/sla/index.html", context, status=400 if form.errors else 200)


# --- SLA settings (admins) ------------------------------------------------------------------------

def _require_settings(user):
    if not user.has_perm(SETTINGS_PERM):
        raise PermissionDenied("Only admins change SLA settings.")


@login_required
@require_GET
def settings_index(request):
    _require_settings(request.user)
    tiers = CustomerTier.objects.select_related("policy__calendar").prefetch_related(
        "sla_targets")
    calendars = BusinessCalendar.objects.prefetch_related("holidays")
    table = []
    for tier in tiers:
        by_severity = {t.severity: t for t in tier.sla_targets.all()}
        table.append((tier, getattr(tier, "policy", None),
                      [(s, by_severity.get(s)) for s in Severity.values]))
    return render(request, "comms/sla/settings.html", {"tiers": table, "calendars": calendars,
                                                       "severities": Severity.values})


@login_required
@require_http_methods(["GET", "POST"])
def tier_settings(request, slug):
    _require_settings(request.user)
    tier = get_object_or_404(CustomerTier.objects.prefetch_related("sla_targets"), slug=slug)
    policy = TierPolicy.objects.filter(tier=tier).first() or TierPolicy(tier=tier)
    data = request.POST if request.method == "POST" else None
    policy_form = forms.TierPolicyForm(data, instance=policy)
    targets_form = forms.TargetsForm(data, tier=tier)
    if data is not None and policy_form.is_valid() and targets_form.is_valid():
        policy_data = {f: policy_form.cleaned_data[f] for f in policy_form.Meta.fields}
        try:
            services.save_tier_settings(tier, by=request.user, policy=policy_data,
                                        targets=targets_form.targets())
        except ValidationError as error:
            add_errors(policy_form, error)
        else:
            messages.success(request, f"Saved the SLA settings of {tier.name}.")
            return redirect("sla:settings")
    status = 400 if data is not None else 200
    return render(request, "comms/sla/tier.html", {
        "tier": tier, "policy_form": policy_form, "targets_form": targets_form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def calendar_settings(request, pk=None):
    _require_settings(request.user)
    calendar = get_object_or_404(BusinessCalendar, pk=pk) if pk else BusinessCalendar()
    initial = {}
    if pk:
        initial = {"name": calendar.name, "time_zone": calendar.time_zone,
                   "weekdays": calendar.weekdays, "start": calendar.start, "end": calendar.end,
                   "holidays": "\n".join(f"{h.date.isoformat()} {h.name}".strip()
                                         for h in calendar.holidays.all())}
    form = forms.CalendarForm(request.POST if request.method == "POST" else None,
                              initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_calendar(calendar, by=request.user, fields=form.fields_for_model(),
                                   holidays=form.cleaned_data["holidays"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Saved the calendar {calendar.name}.")
            return redirect("sla:settings")
    status = 400 if request.method == "POST" else 200
    return render(request, "comms/sla/calendar.html", {"calendar": calendar, "form": form},
                  status=status)
