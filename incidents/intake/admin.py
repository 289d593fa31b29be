"""Admin pages of alert intake (imported by incidents/admin.py). Writes go through
intake.services, as from the portal: keys are minted there and shown once in a message."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from incidents.intake import forms as intake_forms
from incidents.intake import rules, services
from incidents.models import (
    Alert,
    AlertRule,
    ChangeEvent,
    Heartbeat,
    Integration,
    MaintenanceWindow,
)
from incidents.permissions import visible_alerts


def _show_key(request, integration, raw):
    messages.warning(request, f"Key for “{integration.name}”: {raw} — copy it now, it is not "
                              "stored and will not be shown again.")


class DeleteThroughService:
    """Deletions go through a service function (which writes the audit log), one row at a time,
    also for the bulk "delete selected" action."""

    def delete_through(self, request, obj):
        raise NotImplementedError

    def delete_model(self, request, obj):
        self.delete_through(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_through(request, obj)


@admin.register(Integration)
class IntegrationAdmin(DeleteThroughService, admin.ModelAdmin):
    list_display = ["name", "service", "format", "key_prefix", "enabled", "created_at"]
    list_filter = ["format", "enabled", "service"]
    search_fields = ["name"]
    readonly_fields = ["key_prefix", "created_at", "rotated_at"]
    actions = ["rotate_keys"]

    def save_model(self, request, obj, form, change):
        fields = changed_fields(form)
        if change:
            services.update_integration(by=request.user, integration=obj, **fields)
            return
        integration, raw = services.create_integration(by=request.user, **fields)
        adopt(obj, integration)
        _show_key(request, obj, raw)

    def delete_through(self, request, obj):
        services.delete_integration(by=request.user, integration=obj)

    @admin.action(description="Rotate the keys of the selected integrations")
    def rotate_keys(self, request, queryset):
        for integration in queryset:
            raw = services.rotate_integration_key(by=request.user, integration=integration)
            _show_key(request, integration, raw)


def changed_fields(form) -> dict:
    """The admin form's fields for a service function (the form has set them on its instance
    already, and checked their shape)."""
    return {name: form.cleaned_data[name] for name in form.fields if name in form.cleaned_data}


def adopt(obj, saved) -> None:
    # The admin goes on with its own instance (logging, redirect): make it the saved row.
    obj.pk = saved.pk
    obj._state.adding = False
    obj.refresh_from_db()


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnly):
    list_display = ["summary", "service", "status", "severity", "count", "first_seen",
                    "last_seen", "incident"]
    list_filter = ["status", "severity", "service"]
    search_fields = ["summary", "dedup_key"]
    list_select_related = ["service", "incident"]

    def get_queryset(self, request):
        return visible_alerts(request.user, super().get_queryset(request))


@admin.register(ChangeEvent)
class ChangeEventAdmin(ReadOnly):
    list_display = ["summary", "service", "source", "happened_at"]
    list_filter = ["service"]
    search_fields = ["summary"]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = intake_forms.AlertRuleForm
    list_display = ["name", "position", "service", "action", "match_field", "operator", "value",
                    "enabled"]
    list_editable = ["position", "enabled"]
    list_filter = ["action", "service", "enabled"]
    readonly_fields = ["preview"]

    def save_model(self, request, obj, form, change):
        services.save_rule(by=request.user, rule=obj)

    def delete_model(self, request, obj):
        services.delete_rule(by=request.user, rule=obj)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            services.delete_rule(by=request.user, rule=rule)

    def get_object(self, request, object_id, from_field=None):
        rule = super().get_object(request, object_id, from_field)
        if rule is not None:
            # preview() is given only the rule; it shows the alerts this viewer may see. On the
            # instance, not the admin, which every request shares.
            rule.viewer = request.user
        return rule

    @admin.display(description="Preview against recent alerts")
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "Save the rule to see which recent alerts it matches."
        alerts = visible_alerts(getattr(obj, "viewer", None))
        if obj.service_id:
            alerts = alerts.filter(service_id=obj.service_id)
        recent = alerts.order_by("-last_seen")[: rules.PREVIEW_ALERTS]
        rows = rules.preview(obj, recent, timezone.now())
        matched = [alert for alert, hit in rows if hit]
        return format_html("{} of {} recent alerts match.<ul>{}</ul>", len(matched), len(rows),
                           format_html_join("", "<li>{}</li>", ((a.summary,) for a in matched)))


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(DeleteThroughService, admin.ModelAdmin):
    list_display = ["service", "reason", "starts_at", "ends_at"]
    list_filter = ["service"]
    readonly_fields = ["created_by"]  # the service records who created it

    def save_model(self, request, obj, form, change):
        fields = changed_fields(form)
        if change:
            services.update_maintenance_window(by=request.user, window=obj, **fields)
            return
        adopt(obj, services.create_maintenance_window(by=request.user, **fields))

    def delete_through(self, request, obj):
        services.delete_maintenance_window(by=request.user, window=obj)


@admin.register(Heartbeat)
class HeartbeatAdmin(DeleteThroughService, admin.ModelAdmin):
    list_display = ["integration", "interval_minutes", "grace_minutes", "last_ping_at",
                    "is_down"]
    readonly_fields = ["last_ping_at", "is_down"]

    def save_model(self, request, obj, form, change):
        services.save_heartbeat(by=request.user, heartbeat=obj, **changed_fields(form))

    def delete_through(self, request, obj):
        services.delete_heartbeat(by=request.user, heartbeat=obj)
