from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from comms.models import ClockPause, SlaClock
from comms.sla import present, services
from comms.sla.forms import PauseForm
from config.errors import DomainError
from config.forms import add_errors
from incidents import permissions


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


def _render(request, incident, form=None, status=200):
    context = panel_context(request.user, incident, form)
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
        form = PauseForm()
        form.add_error(None, error.message)
        return _render(request, incident, form, status=400)
    return _changed(request, incident)
