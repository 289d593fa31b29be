"""Portal pages of alert intake: services and their integrations, heartbeats and maintenance
windows, alert rules with a preview, and the alert panel of an incident. Keys are shown once,
in the response that creates or rotates them."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.forms import add_errors
from incidents import permissions
from incidents.intake import forms as intake_forms
from incidents.intake import rules, services
from incidents.models import (
    OPEN_STATUSES,
    Alert,
    AlertRule,
    ChangeEvent,
    Incident,
    Integration,
    MaintenanceWindow,
    Service,
)
from incidents.paging import leads

ALERTS_SHOWN = 50
OPEN_INCIDENTS_SHOWN = 50
CHANGES_BEFORE = timedelta(hours=6)


def _require_view(user) -> None:
    if not permissions.can_view_intake(user):
        raise PermissionDenied("Your role cannot see services and integrations.")


def _require_manage(user) -> None:
    if not permissions.can_manage_intake(user):
        raise PermissionDenied("Your role cannot change services, integrations or rules.")


# --- incident page panel -----------------------------------------------------------------------


@login_required
@require_GET
def incident_alerts(request, number):
    """The alerts of an incident, maintenance windows and what changed on its services in the
    hours before it started. A fragment for htmx, a page otherwise."""
    incident = permissions.get_visible_incident(request.user, number)
    service_ids = list(incident.services.values_list("pk", flat=True))
    context = {
        "incident": incident,
        "alerts": list(incident.alerts.select_related("integration").order_by("-last_seen")[
            :ALERTS_SHOWN]),
        "alert_count": incident.alerts.count(),
        "changes": list(ChangeEvent.objects.filter(
            service_id__in=service_ids, happened_at__gte=incident.started_at - CHANGES_BEFORE,
            happened_at__lte=incident.closed_at or timezone.now(),
        ).select_related("service").order_by("-happened_at")[:50]),
        "windows": list(MaintenanceWindow.objects.filter(
            service_id__in=service_ids, starts_at__lte=incident.closed_at or timezone.now(),
            ends_at__gte=incident.started_at).select_related("service")),
    }
    template = "incidents/alerts.html#alerts-panel" if request.htmx else "incidents/alerts.html"
    return render(request, template, context)


# --- services and integrations -----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def service_list(request):
    _require_view(request.user)
    form = intake_forms.ServiceForm(request.POST or None)
    if request.method == "POST":
        _require_manage(request.user)
        service = _save_form(form, services.create_service, by=request.user)
        if service is not None:
            return redirect("intake:service", slug=service.slug)
    listed = Service.objects.select_related("team", "escalation_policy")
    return render(request, "incidents/services.html", {
        "services": listed, "form": form,
        "can_manage": permissions.can_manage_intake(request.user),
    }, status=400 if form.errors else 200)


def _service_context(request, service, **extra) -> dict:
    return {
        "service": service,
        "lead": service.team.lead if service.team_id else None,
        "silence": (leads.silence_sentence([service])
                    if leads.nobody_will_be_paged([service]) else ""),
        "open_incidents": permissions.visible_incidents(request.user, Incident.objects.filter(
            services=service, status__in=OPEN_STATUSES)).by_urgency()[:OPEN_INCIDENTS_SHOWN],
        "integrations": service.integrations.exclude(format="heartbeat"),
        "heartbeats": service.integrations.filter(format="heartbeat").select_related(
            "heartbeat"),
        "windows": service.maintenance_windows.all()[:20],
        "rules": AlertRule.objects.filter(service=service),
        "alerts": permissions.visible_alerts(
            request.user, Alert.objects.filter(service=service)).order_by("-last_seen")[:20],
        "can_manage": permissions.can_manage_intake(request.user),
        "integration_form": intake_forms.IntegrationForm(),
        "heartbeat_form": intake_forms.HeartbeatForm(),
        "window_form": intake_forms.MaintenanceWindowForm(),
        "settings_form": intake_forms.ServiceSettingsForm(instance=service),
        **extra,
    }


def _service(slug) -> Service:
    return get_object_or_404(
        Service.objects.select_related("team__lead", "escalation_policy"), slug=slug)


def _render_service(request, service, status=200, **extra):
    return render(request, "incidents/service.html", _service_context(request, service, **extra),
                  status=status)


@login_required
@require_GET
def service_detail(request, slug):
    _require_view(request.user)
    service = _service(slug)
    shown_once = request.session.pop(SHOWN_ONCE, None)
    if shown_once:
        keyed = Integration.objects.filter(pk=shown_once["id"], service=service).first()
        if keyed:
            return _render_service(request, service, new_key=shown_once["key"], keyed=keyed)
    return _render_service(request, service)


# The new key rides the session to the page after the redirect, once, so reloading that page
# neither repeats the POST (a second integration) nor shows the key again.
SHOWN_ONCE = "relay_intake_key_once"


def _save_form(form, service_function, **arguments):
    """Hand a valid form's fields to a service function; None (its ValidationError shown
    beside the fields) when the form or the service refuses them."""
    if not form.is_valid():
        return None
    try:
        return service_function(**arguments, **_fields(form))
    except ValidationError as error:
        add_errors(form, error)
        return None


def _fields(form) -> dict:
    # A model form validated its instance already; the service gets the fields, not the form.
    return {name: value for name, value in form.cleaned_data.items() if name in form.fields}


def _redirect_with_key(request, integration, key):
    request.session[SHOWN_ONCE] = {"id": integration.pk, "key": key}
    return redirect("intake:service", slug=integration.service.slug)


@login_required
@require_POST
def service_settings(request, slug):
    _require_manage(request.user)
    service = _service(slug)
    form = intake_forms.ServiceSettingsForm(request.POST, instance=service)
    if _save_form(form, services.update_service_settings, by=request.user,
                  service=service) is None:
        service.refresh_from_db()
        return _render_service(request, service, 400, settings_form=form)
    return redirect("intake:service", slug=service.slug)


@login_required
@require_POST
def integration_create(request, slug):
    _require_manage(request.user)
    service = _service(slug)
    form = intake_forms.IntegrationForm(request.POST)
    created = _save_form(form, services.create_integration, by=request.user, service=service)
    if created is None:
        return _render_service(request, service, 400, integration_form=form)
    return _redirect_with_key(request, *created)


@login_required
@require_POST
def integration_rotate(request, slug, pk):
    _require_manage(request.user)
    integration = get_object_or_404(Integration, pk=pk, service__slug=slug)
    key = services.rotate_integration_key(by=request.user, integration=integration)
    return _redirect_with_key(request, integration, key)


@login_required
@require_POST
def heartbeat_create(request, slug):
    _require_manage(request.user)
    service = _service(slug)
    form = intake_forms.HeartbeatForm(request.POST)
    created = _save_form(form, services.create_heartbeat, by=request.user, service=service)
    if created is None:
        return _render_service(request, service, 400, heartbeat_form=form)
    heartbeat, key = created
    return _redirect_with_key(request, heartbeat.integration, key)


@login_required
@require_POST
def window_create(request, slug):
    _require_manage(request.user)
    service = _service(slug)
    form = intake_forms.MaintenanceWindowForm(request.POST)
    if _save_form(form, services.create_maintenance_window, by=request.user,
                  service=service) is None:
        return _render_service(request, service, 400, window_form=form)
    return redirect("intake:service", slug=service.slug)


# --- rules ---------------------------------------------------------------------------------------


def _recent_alerts(user, service):
    alerts = permissions.visible_alerts(user)
    if service is not None:
        alerts = alerts.filter(service=service)
    return alerts.order_by("-last_seen")[: rules.PREVIEW_ALERTS]


def _preview(user, form) -> list | None:
    """Which recent alerts the rule in the form would match; None while the form is invalid."""
    if not form.is_valid():
        return None
    candidate = form.save(commit=False)
    return rules.preview(candidate, _recent_alerts(user, candidate.service))


@login_required
@require_GET
def rule_list(request):
    _require_view(request.user)
    return render(request, "incidents/rules.html", {
        "rules": AlertRule.objects.select_related("service", "escalation_policy"),
        "can_manage": permissions.can_manage_intake(request.user),
    })


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, pk=None):
    _require_view(request.user)
    rule = get_object_or_404(AlertRule, pk=pk) if pk else None
    form = intake_forms.AlertRuleForm(request.POST or None, instance=rule)
    preview = None
    if request.method == "POST":
        _require_manage(request.user)
        if "preview" in request.POST:
            preview = _preview(request.user, form)
        elif _save_form(form, services.save_rule, by=request.user,
                        rule=form.instance) is not None:
            return redirect("intake:rules")
    elif rule is not None:
        preview = rules.preview(rule, _recent_alerts(request.user, rule.service))
    context = {"form": form, "rule": rule, "preview": preview,
               "matched": sum(1 for _, hit in preview or () if hit),
               "can_manage": permissions.can_manage_intake(request.user)}
    template = "incidents/rule.html#preview" if request.htmx else "incidents/rule.html"
    return render(request, template, context, status=400 if form.errors else 200)
