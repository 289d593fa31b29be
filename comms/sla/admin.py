"""Admin registrations of this area (comms/admin.py imports them). Everything is read only here:
clocks and pauses change through comms.sla.services (timeline listener, pause, resume), and the
SLA settings (tier policies, targets, calendars) through its save_tier_settings and save_calendar,
which the portal's SLA settings (/sla/settings/) call, so every configuration write has one
path."""

from django.contrib import admin

from comms.models import BusinessCalendar, ClockPause, Holiday, SlaClock, SlaTarget, TierPolicy
from incidents.admin import ReadOnlyAdmin


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(ReadOnlyAdmin):
    list_display = ["name", "time_zone", "start", "end"]
    inlines = [HolidayInline]


@admin.register(TierPolicy)
class TierPolicyAdmin(ReadOnlyAdmin):
    list_display = ["tier", "calendar", "amber_percent_left", "red_percent_left",
                    "suggested_severity", "message_approval"]


@admin.register(SlaTarget)
class SlaTargetAdmin(ReadOnlyAdmin):
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
