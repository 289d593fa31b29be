"""SLA policies (per customer tier and severity, with business-hours calendars) and the clocks
each incident gets from them. A clock's due time and thresholds are derived from the incident,
its pauses and its calendar by comms.sla; the columns here are what the timer engine scans."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from comms.models.customers import Customer
from incidents.models import CustomerTier, Incident, Severity
from oncall.models import validate_time_zone

__all__ = ["BusinessCalendar", "Holiday", "TierPolicy", "ResponseOn", "SlaTarget", "ClockKind",
           "ClockState", "SlaClock", "ClockPause"]


def default_weekdays():
    return [0, 1, 2, 3, 4]


class BusinessCalendar(models.Model):
    """Hours an SLA clock runs: these weekdays (0 is Monday), from `start` to `end` in the
    calendar's time zone, except holidays."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    weekdays = models.JSONField(default=default_weekdays,
                                help_text="Working weekdays, 0 = Monday … 6 = Sunday.")
    start = models.TimeField(help_text="Working hours begin (local time).")
    end = models.TimeField(help_text="Working hours end (local time), after the start.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Holiday(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE,
                                 related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_day"),
        ]

    def __str__(self):
        return f"{self.date} {self.name}".strip()


class TierPolicy(models.Model):
    """What applies to every customer of a tier: the calendar its clocks run on, the warning
    thresholds, and whether customer messages to it need a second person's approval."""

    tier = models.OneToOneField(CustomerTier, on_delete=models.CASCADE, related_name="policy")
    calendar = models.ForeignKey(BusinessCalendar, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="tiers",
                                 help_text="Blank: clocks run around the clock.")
    amber_percent_left = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn (amber) when this share of a clock's time is left.")
    red_percent_left = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn again (red) when this share is left; below the amber share.")
    suggested_severity = models.CharField(
        max_length=2, choices=Severity.choices, default=Severity.P3,
        help_text="The severity a customer issue reported for this tier starts with "
                  "(the most severe of the affected customers' tiers wins).")
    message_approval = models.BooleanField(
        default=False, help_text="Customer messages to this tier need a second person of "
                                 "Communications to approve them before they are published.")

    class Meta:
        verbose_name_plural = "tier policies"
        constraints = [
            models.CheckConstraint(condition=Q(red_percent_left__lt=models.F("amber_percent_left")),
                                   name="tier_policy_red_below_amber"),
        ]

    def __str__(self):
        return f"{self.tier} policy"


class ResponseOn(models.TextChoices):
    ACKNOWLEDGED = "acknowledged", "First acknowledgement"
    MESSAGE = "message", "First published customer message"


class SlaTarget(models.Model):
    """A tier's targets for one severity."""

    tier = models.ForeignKey(CustomerTier, on_delete=models.CASCADE, related_name="sla_targets")
    severity = models.CharField(max_length=2, choices=Severity.choices)
    response_minutes = models.PositiveIntegerField(null=True, blank=True,
                                                   validators=[MinValueValidator(1)])
    response_on = models.CharField(max_length=12, choices=ResponseOn.choices,
                                   default=ResponseOn.ACKNOWLEDGED,
                                   help_text="What counts as the response.")
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True,
                                                     validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["tier", "severity"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "severity"], name="sla_target_once"),
        ]

    def __str__(self):
        return f"{self.tier} {self.severity}"


class ClockKind(models.TextChoices):
    RESPONSE = "response", "Response"
    RESOLUTION = "resolution", "Resolution"


class ClockState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"  # ran out while the incident was open; still running on
    REPLACED = "replaced", "Replaced"  # a recomputation (severity, tiers, customers) replaced it


class SlaClock(models.Model):
    """One target for one incident: for an affected customer (its contract or its tier's
    targets) or for a tier named directly. Recomputing replaces clocks, never edits history."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="sla_clocks")
    kind = models.CharField(max_length=10, choices=ClockKind.choices)
    # "customer:<id>" or "tier:<id>": what the clock is for, unique among an incident's live
    # clocks of a kind.
    key = models.CharField(max_length=40)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="sla_clocks")
    tier = models.ForeignKey(CustomerTier, on_delete=models.PROTECT, related_name="sla_clocks")
    severity = models.CharField(max_length=2, choices=Severity.choices)
    source = models.CharField(max_length=8, choices=[("tier", "Tier"), ("contract", "Contract")])
    target_minutes = models.PositiveIntegerField()
    response_on = models.CharField(max_length=12, choices=ResponseOn.choices, blank=True)
    calendar = models.ForeignKey(BusinessCalendar, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    amber_percent_left = models.PositiveSmallIntegerField(default=50)
    red_percent_left = models.PositiveSmallIntegerField(default=20)
    state = models.CharField(max_length=10, choices=ClockState.choices,
                             default=ClockState.RUNNING)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True, help_text="Empty while paused.")
    stopped_at = models.DateTimeField(null=True, blank=True)
    # Seconds of the target used when it stopped (met or, late, breached-and-stopped).
    used_seconds = models.PositiveIntegerField(null=True, blank=True)
    amber_at = models.DateTimeField(null=True, blank=True)
    red_at = models.DateTimeField(null=True, blank=True)
    warned_amber_at = models.DateTimeField(null=True, blank=True)
    warned_red_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    # The earliest warning or breach not yet announced: what the timer engine scans.
    next_alert_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["incident", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind", "key"],
                                    condition=Q(replaced_at__isnull=True),
                                    name="sla_clock_live_once"),
        ]
        indexes = [
            models.Index(fields=["next_alert_at"], name="sla_clock_alert_due_idx",
                         condition=Q(next_alert_at__isnull=False)),
            # SLA compliance over a period (comms.sla.reports, insights).
            models.Index(fields=["started_at"], name="sla_clock_started_idx",
                         condition=Q(replaced_at__isnull=True)),
            models.Index(fields=["due_at"], name="sla_clock_open_due_idx",
                         condition=Q(state__in=["running", "breached"])),
        ]

    def __str__(self):
        return f"INC-{self.incident_id} {self.kind} clock ({self.key})"


class ClockPause(models.Model):
    """A span in which an incident's clocks stood still (waiting on the customer)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="sla_pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500)
    paused_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    resumed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["incident", "started_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident"], condition=Q(ended_at__isnull=True),
                                    name="sla_pause_one_open"),
        ]

    def __str__(self):
        return f"INC-{self.incident_id} paused {self.started_at:%Y-%m-%d %H:%M}"
