from django.contrib import admin

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


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
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
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "time_zone"]
    search_fields = ["name"]
    inlines = [LayerInline, OverrideInline]


class LayerMemberInline(admin.TabularInline):
    model = LayerMember
    extra = 1


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    list_display = ["name", "schedule", "rank", "turn_length", "turn_unit", "handoff_time"]
    list_filter = ["schedule"]
    inlines = [LayerMemberInline]


@admin.register(Override)
class OverrideAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "start", "end", "created_by"]
    list_filter = ["schedule"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user"]
    search_fields = ["user__username"]


class EscalationStepInline(admin.StackedInline):
    model = EscalationStep
    extra = 0
    filter_horizontal = ["users", "schedules", "teams"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "repeat", "ack_timeout_minutes"]
    search_fields = ["name"]
    inlines = [EscalationStepInline]


class NotificationRuleInline(admin.TabularInline):
    model = NotificationRule
    extra = 0


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "address", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["user__username", "address"]
    inlines = [NotificationRuleInline]


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["contact_method", "delay_minutes"]


@admin.register(LayerMember)
class LayerMemberAdmin(admin.ModelAdmin):
    list_display = ["layer", "position", "user"]
    list_filter = ["layer__schedule"]


@admin.register(Swap)
class SwapAdmin(admin.ModelAdmin):
    list_display = ["schedule", "offered_by", "start", "end", "state", "taken_by"]
    list_filter = ["state", "schedule"]


@admin.register(HandoffNotice)
class HandoffNoticeAdmin(admin.ModelAdmin):
    list_display = ["schedule", "user", "kind", "shift_start", "status", "attempts", "sent_at"]
    list_filter = ["kind", "status"]
