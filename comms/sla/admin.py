"""Admin registrations of this area (comms/admin.py imports them). Clocks and pauses are read
only here: they change through comms.sla.services (timeline listener, pause, resume)."""

from django.contrib import admin

from comms.models import BusinessCalendar, ClockPause, Holiday, SlaClock, SlaTarget, TierPolicy
from incidents.admin import ReadOnlyAdmin


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "start", "end"]
    inlines = [HolidayInline]


@admin.register(TierPolicy)
class TierPolicyAdmin(admin.ModelAdmin):
    list_display = ["tier", "calendar", "amber_percent_left", "red_percent_left",
                    "suggested_severity", "message_approval"]


@admin.register(SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin):
    list_display = ["tier", "severity", "response_minutes", "response_on", "resolution_minutes"]
    list_filter = ["tier", "severity"]


@admin.register(SlaClock)
class SlaClockAdmin(ReadOnlyAdmin):
    list_display = ["incident", "kind", "key", "severity", "target_minutes", "state", "due_at",
                    "replaced_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["incident"]


@admin.register(ClockPause)
class ClockPauseAdmin(ReadOnlyAdmin):
    list_display = ["incident", "started_at", "ended_at", "reason"]
    list_select_related = ["incident"]
