from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from incidents.intake import services as intake_services
from incidents.intake.admin import DeleteThroughService, adopt, changed_fields
from incidents.models import (
    CustomerTier,
    EscalationRun,
    Incident,
    IncidentGroupObjectPermission,
    IncidentUserObjectPermission,
    Page,
    Service,
    TimelineEntry,
)
from incidents.permissions import visible_incidents


@admin.register(Service)
class ServiceAdmin(DeleteThroughService, admin.ModelAdmin):
    list_display = ["name", "slug", "team"]
    list_filter = ["team"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request, obj, form, change):
        # Through intake's services, as from the portal and the API (the audit log, the checks).
        fields = changed_fields(form)
        if change:
            intake_services.update_service_settings(by=request.user, service=obj, **fields)
            return
        adopt(obj, intake_services.create_service(by=request.user, **fields))

    def delete_through(self, request, obj):
        intake_services.delete_service(by=request.user, service=obj)


@admin.register(CustomerTier)
class CustomerTierAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "rank"]
    prepopulated_fields = {"slug": ["name"]}


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written only through the incident services (every change lands on the
    timeline), so the admin shows these rows but cannot add, change or delete them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["reference", "title", "severity", "status", "restricted", "started_at",
                    "portal_link"]
    list_filter = ["status", "severity", "restricted"]
    search_fields = ["title"]
    list_select_related = True

    def get_queryset(self, request):
        # The admin honours restriction like every other surface.
        return visible_incidents(request.user, super().get_queryset(request))

    @admin.display(description="Portal")
    def portal_link(self, obj):
        return format_html('<a href="{}">open</a>', reverse("incidents:detail", args=[obj.pk]))


class IncidentPartAdmin(ReadOnlyAdmin):
    """Rows that belong to one incident: shown only where the incident itself is visible."""

    def get_queryset(self, request):
        return super().get_queryset(request).filter(incident__in=visible_incidents(request.user))


@admin.register(TimelineEntry)
class TimelineEntryAdmin(IncidentPartAdmin):
    list_display = ["incident", "seq", "kind", "actor", "actor_label", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["incident", "actor"]


@admin.register(IncidentUserObjectPermission, IncidentGroupObjectPermission)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ["content_object", "permission", "__str__"]


@admin.register(EscalationRun)
class EscalationRunAdmin(IncidentPartAdmin):
    list_display = ["incident", "state", "next_step", "round", "next_action_at"]
    list_filter = ["state"]


@admin.register(Page)
class PageAdmin(IncidentPartAdmin):
    list_display = ["incident", "purpose", "user", "channel", "step", "round", "status",
                    "attempts", "due_at"]
    list_filter = ["status", "purpose", "channel"]
    search_fields = ["user__username", "address"]


# Alert intake and outgoing webhooks register their models in their own modules.
from incidents.intake import admin as intake_admin  # noqa: E402,F401
from incidents.webhooks import admin as webhooks_admin  # noqa: E402,F401
