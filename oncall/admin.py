"""Admin pages of on-call data. Configuration writes, inline rows included, go through
oncall.services, so the admin keeps the rules the portal keeps."""

from django.contrib import admin

from oncall import services
from oncall.models import (
    CalendarFeed,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    HandoffNotice,
    Layer,
    LayerMember,
    NotificationRule,
    Override,
    Schedule,
    Swap,
    Team,
)

# The service function (in oncall.services) that saves each model, and its keyword.
SAVERS = {
    Schedule: ("save_schedule", "schedule"),
    Layer: ("save_layer", "layer"),
    LayerMember: ("save_layer_member", "member"),
    Override: ("save_override", "override"),
    EscalationPolicy: ("save_policy", "policy"),
    EscalationStep: ("save_step", "step"),
    ContactMethod: ("save_contact_method", "method"),
    NotificationRule: ("save_notification_rule", "rule"),
    CalendarFeed: ("save_calendar_feed", "feed"),
    Team: ("save_team", "team"),
}


def _save(request, obj, form=None) -> None:
    function, keyword = SAVERS[type(obj)]
    extra = {}
    if isinstance(obj, EscalationStep) and form is not None:
        # Through the service, so the step's audit entry holds the targets it was saved with.
        extra["targets"] = {name: form.cleaned_data[name] for name in services.TARGETS
                            if name in form.cleaned_data}
    getattr(services, function)(by=request.user, **{keyword: obj}, **extra)


class ThroughServices(admin.ModelAdmin):
    """The admin form (and each inline form) validates shape and sets the fields on its
    instance; the service checks the rules and saves."""

    def save_model(self, request, obj, form, change):
        _save(request, obj)

    def delete_model(self, request, obj):
        services.delete_configuration(by=request.user, obj=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete_configuration(by=request.user, obj=obj)

    def save_formset(self, request, form, formset, change):
        forms = {id(row.instance): row for row in formset.forms}
        for obj in formset.save(commit=False):
            _save(request, obj, forms.get(id(obj)))
        for obj in formset.deleted_objects:
            services.delete_configuration(by=request.user, obj=obj)
        formset.save_m2m()  # after the rows: step targets need the step saved


@admin.register(Team)
class TeamAdmin(ThroughServices):
    list_display = ["name", "slug", "lead"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class LayerInline(admin.StackedInline):
    model = Layer
    extra = 0
    show_change_link = True


class OverrideInline(admin.TabularInline):
    model = Override
    extra = 0
    fields = ["user", "start", "end", "note", "created_by"]


@admin.register(Schedule)
class ScheduleAdmin(ThroughServices):
    list_display = ["name", "team", "time_zone"]
    search_fields = ["name"]
    inlines = [LayerInline, OverrideInline]


class LayerMemberInline(admin.TabularInline):
    model = LayerMember
    extra = 1


@admin.register(Layer)
class LayerAdmin(ThroughServices):
    list_display = ["name", "schedule", "rank", "turn_length", "turn_unit", "handoff_time"]
    list_filter = ["schedule"]
    inlines = [LayerMemberInline]


@admin.register(Override)
class OverrideAdmin(ThroughServices):
    list_display = ["schedule", "user", "start", "end", "created_by"]
    list_filter = ["schedule"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ThroughServices):
    list_display = ["user"]
    search_fields = ["user__username"]


class EscalationStepInline(admin.StackedInline):
    model = EscalationStep
    extra = 0
    filter_horizontal = ["users", "schedules", "teams"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ThroughServices):
    list_display = ["name", "team", "repeat", "ack_timeout_minutes"]
    search_fields = ["name"]
    inlines = [EscalationStepInline]


class NotificationRuleInline(admin.TabularInline):
    model = NotificationRule
    extra = 0


@admin.register(ContactMethod)
class ContactMethodAdmin(ThroughServices):
    list_display = ["user", "kind", "address", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["user__username", "address"]
    inlines = [NotificationRuleInline]


@admin.register(NotificationRule)
class NotificationRuleAdmin(ThroughServices):
    list_display = ["contact_method", "delay_minutes"]


@admin.register(LayerMember)
class LayerMemberAdmin(ThroughServices):
    list_display = ["layer", "position", "user"]
    list_filter = ["layer__schedule"]


@admin.register(Swap)
class SwapAdmin(admin.ModelAdmin):
    """Read only: a swap changes only through its two people (offer, take, undo), whose
    services keep its override in step; an admin covers a period with an override instead."""

    list_display = ["schedule", "offered_by", "start", "end", "state", "taken_by"]
    list_filter = ["state", "schedule"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HandoffNotice)
class HandoffNoticeAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "kind", "shift_start", "status", "attempts", "sent_at"]
    list_filter = ["kind", "status"]
