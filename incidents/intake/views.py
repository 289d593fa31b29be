"""Portal pages of alert intake: services and their integrations, heartbeats and maintenance
windows, alert rules with a preview, and the alert panel of an incident. Keys are shown once,
in the response that creates or rotates them."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import permissions
from incidents.intake import forms as intake_forms
from incidents.intake import heartbeats, keys, rules
from incidents.models import (
    Alert,
    AlertRule,
    ChangeEvent,
    Integration,
    MaintenanceWindow,
    Service,
)

ALERTS_SHOWN = 50
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
        if form.is_valid():
            service = form.save()
            return redirect("intake:service", slug=service.slug)
    services = Service.objects.select_related("team", "escalation_policy")
    return render(request, "incidents/services.html", {
        "services": services, "form": form,
        "can_manage": permissions.can_manage_intake(request.user),
    }, status=400 if form.errors else 200)


def _service_context(request, service, **extra) -> dict:
    return {
        "service": service,
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


def _render_service(request, service, status=200, **extra):
    return render(request, "incidents/service.html", _service_context(request, service, **extra),
                  status=status)


@login_required
@require_GET
def service_detail(request, slug):
    _require_view(request.user)
    service = get_object_or_404(Service, slug=slug)
    shown_once = request.session.pop(SHOWN_ONCE, None)
    if shown_once:
        keyed = Integration.objects.filter(pk=shown_once["id"], service=service).first()
        if keyed:
            return _render_service(request, service, new_key=shown_once["key"], keyed=keyed)
    return _render_service(request, service)


# The new key rides the session to the page after the redirect, once, so reloading that page
# neither repeats the POST (a second integration) nor shows the key again.
SHOWN_ONCE = "relay_intake_key_once"


def _redirect_with_key(request, integration, key):
    request.session[SHOWN_ONCE] = {"id": integration.pk, "key": key}
    return redirect("intake:service", slug=integration.service.slug)


@login_required
@require_POST
def service_settings(request, slug):
    _require_manage(request.user)
    service = get_object_or_404(Service, slug=slug)
    form = intake_forms.ServiceSettingsForm(request.POST, instance=service)
    if not form.is_valid():
        service.refresh_from_db()
        return _render_service(request, service, 400, settings_form=form)
    form.save()
    return redirect("intake:service", slug=service.slug)


@login_required
@require_POST
def integration_create(request, slug):
    _require_manage(request.user)
    service = get_object_or_404(Service, slug=slug)
    form = intake_forms.IntegrationForm(request.POST)
    if not form.is_valid():
        return _render_service(request, service, 400, integration_form=form)
    integration, key = keys.create_integration(service=service, **form.cleaned_data)
    return _redirect_with_key(request, integration, key)


@login_required
@require_POST
def integration_rotate(request, slug, pk):
    _require_manage(request.user)
    integration = get_object_or_404(Integration, pk=pk, service__slug=slug)
    return _redirect_with_key(request, integration, keys.rotate_key(integration))


@login_required
@require_POST
def heartbeat_create(request, slug):
    _require_manage(request.user)
    service = get_object_or_404(Service, slug=slug)
    form = intake_forms.HeartbeatForm(request.POST)
    if not form.is_valid():
        return _render_service(request, service, 400, heartbeat_form=form)
    heartbeat, key = heartbeats.create(service=service, **form.cleaned_data)
    return _redirect_with_key(request, heartbeat.integration, key)


@login_required
@require_POST
def window_create(request, slug):
    _require_manage(request.user)
    service = get_object_or_404(Service, slug=slug)
    form = intake_forms.MaintenanceWindowForm(request.POST)
    if not form.is_valid():
        return _render_service(request, service, 400, window_form=form)
    window = form.save(commit=False)
    window.service, window.created_by = service, request.user
    window.save()
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
        elif form.is_valid():
            form.save()
            return redirect("intake:rules")
    elif rule is not None:
        preview = rules.preview(rule, _recent_alerts(request.user, rule.service))
    context = {"form": form, "rule": rule, "preview": preview,
               "matched": sum(1 for _, hit in preview or () if hit),
               "can_manage": permissions.can_manage_intake(request.user)}
    template = "incidents/rule.html#preview" if request.htmx else "incidents/rule.html"
    return render(request, template, context, status=400 if form.errors else 200)
