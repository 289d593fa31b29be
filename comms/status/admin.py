"""Admin registrations of the status page (comms/admin.py imports them), read only: every change
goes through comms.status.services (the cache is invalidated, windows follow, subscribers hear),
which the admin's own save would skip."""

from django.contrib import admin

from comms.models import (
    Component,
    ComponentChange,
    ComponentGroup,
    Maintenance,
    MaintenanceUpdate,
    PublicIncident,
    StatusPage,
    Subscriber,
    SubscriberNotice,
)
from incidents.admin import ReadOnlyAdmin


@admin.register(StatusPage)
class StatusPageAdmin(ReadOnlyAdmin):
    list_display = ["name", "time_zone", "updated_at"]


@admin.register(ComponentGroup)
class ComponentGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "position", "code"]


@admin.register(Component)
class ComponentAdmin(ReadOnlyAdmin):
    list_display = ["name", "group", "status", "follows_incidents", "internal", "code"]
    list_filter = ["status", "internal", "follows_incidents"]
    search_fields = ["name"]


@admin.register(ComponentChange)
class ComponentChangeAdmin(ReadOnlyAdmin):
    list_display = ["component", "at", "old_status", "new_status", "incident", "maintenance",
                    "by"]
    list_filter = ["new_status"]


@admin.register(Maintenance)
class MaintenanceAdmin(ReadOnlyAdmin):
    list_display = ["name", "state", "starts_at", "ends_at", "next_action_at", "code"]
    list_filter = ["state"]
    search_fields = ["name"]


@admin.register(MaintenanceUpdate)
class MaintenanceUpdateAdmin(ReadOnlyAdmin):
    list_display = ["maintenance", "state", "at", "by"]


@admin.register(PublicIncident)
class PublicIncidentAdmin(ReadOnlyAdmin):
    list_display = ["name", "incident", "first_published_at", "code"]


@admin.register(Subscriber)
class SubscriberAdmin(ReadOnlyAdmin):
    list_display = ["kind", "email", "url", "confirmed_at", "unsubscribed_at"]
    list_filter = ["kind"]


@admin.register(SubscriberNotice)
class SubscriberNoticeAdmin(ReadOnlyAdmin):
    list_display = ["key", "subscriber", "kind", "status", "attempts", "due_at"]
    list_filter = ["status", "kind"]
