"""Alert intake: integrations, alerts, change events, rules, maintenance windows, heartbeats."""
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config import timerange
from incidents.models.core import Incident, Service, Severity
from oncall.models import EscalationPolicy

__all__ = [
    "IntegrationFormat",
    "EmailDedup",
    "Integration",
    "AlertStatus",
    "Alert",
    "ChangeEvent",
    "RuleAction",
    "MatchField",
    "MatchOperator",
    "AlertRule",
    "MaintenanceWindow",
    "Heartbeat",
]

# --- Alerts, integrations and rules


class IntegrationFormat(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
    GENERIC = "generic", "Generic JSON"
    EMAIL = "email", "Email (RFC 822)"
    HEARTBEAT = "heartbeat", "Heartbeat"


class EmailDedup(models.TextChoices):
    MESSAGE_ID = "message_id", "Message-ID (every message is its own alert)"
    SUBJECT = "subject", "Subject (repeats of a subject count on one alert)"
    SUBJECT_SENDER = "subject_sender", "Subject and sender"


class Integration(models.Model):
    """Where one monitoring tool sends alerts for a service. Only the SHA-256 of the secret key
    is stored; the key itself is shown once, when created or rotated."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="integrations")
    name = models.CharField(max_length=100)
    format = models.CharField(max_length=16, choices=IntegrationFormat.choices)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=12, editable=False)
    enabled = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        default=6000, help_text="Events accepted per minute before answering 429."
    )
    email_dedup = models.CharField(
        max_length=16, choices=EmailDedup.choices, default=EmailDedup.MESSAGE_ID,
        help_text="Email integrations: what makes two messages the same alert.",
    )
    # Kept readable, unlike the key: verifying an HMAC needs the secret itself.
    signing_secret = models.CharField(
        max_length=128, blank=True,
        help_text="Grafana integrations: the HMAC secret of the contact point; when set, "
        "requests without a valid X-Grafana-Alerting-Signature are refused.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["service__name", "name"]

    def __str__(self):
        return f"{self.service} · {self.name} ({self.get_format_display()})"


class AlertStatus(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SUPPRESSED = "suppressed", "Suppressed"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One problem reported by a monitoring tool: the first event creates the row, repeats with
    the same (integration, dedup key) only bump `count` and `last_seen` while it is open."""

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="alerts")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="alerts")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    dedup_key = models.CharField(max_length=255)
    grouping_key = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=12, choices=AlertStatus.choices, default=AlertStatus.TRIGGERED
    )
    severity = models.CharField(max_length=2, choices=Severity.choices, default=Severity.P3)
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=255, blank=True)
    source_url = models.CharField(max_length=2048, blank=True)
    details = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The last event as received.")
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Set once grouping, rules and declare/update have run; a sweep retries rows left without.
    processed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            # The dedup upsert (intake._UPSERT) infers this index: one open alert per key.
            models.UniqueConstraint(
                fields=["integration", "dedup_key"],
                condition=~Q(status="resolved"),
                name="alert_open_dedup_uniq",
            ),
        ]
        # No index covers count, last_seen or raw: a repeat updates only those, so PostgreSQL
        # can update the row in place (HOT) without touching any index.
        indexes = [
            # Stale sweep (intake.close_stale_alerts): open alerts of a service.
            models.Index(
                fields=["service"], name="alert_open_service_idx", condition=~Q(status="resolved")
            ),
            # Flapping guard (intake._flapping_incident): recent resolutions of one key.
            models.Index(
                fields=["integration", "dedup_key", "resolved_at"], name="alert_flap_idx",
                condition=Q(status="resolved"),
            ),
            # Sweep of alerts stored but never grouped (intake.process_pending).
            models.Index(
                fields=["first_seen"], name="alert_unprocessed_idx", condition=Q(processed=False)
            ),
            # Insights: alerts first seen in a date range (first_seen never changes on a repeat).
            models.Index(fields=["first_seen"], name="alert_first_seen_idx"),
        ]

    def __str__(self):
        return f"{self.summary[:60]} ×{self.count}"


class ChangeEvent(models.Model):
    """A deploy, config change or feature flag flip, shown next to the incidents it may explain."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="changes")
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=255, blank=True)
    happened_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-happened_at"]
        # "What changed recently": changes of some services in a time range.
        indexes = [models.Index(fields=["service", "happened_at"], name="change_service_time_idx")]

    def __str__(self):
        return self.summary[:80]


class RuleAction(models.TextChoices):
    SEVERITY = "severity", "Set severity"
    DROP = "drop", "Suppress: drop (record the alert only)"
    QUIET = "quiet", "Suppress: open the incident without paging"
    ROUTE = "route", "Route to an escalation policy"


class MatchField(models.TextChoices):
    SUMMARY = "summary", "Summary"
    SOURCE = "source", "Source"
    SOURCE_SEVERITY = "source_severity", "Severity sent by the tool"
    TEXT = "text", "Any text (summary and details)"
    LABEL = "label", "Label or detail (name below)"
    ANY = "any", "Every alert"


class MatchOperator(models.TextChoices):
    CONTAINS = "contains", "contains (any case)"
    EQUALS = "equals", "equals"
    REGEX = "regex", "matches regular expression"


class AlertRule(models.Model):
    """Evaluated for each new alert in `position` order; the first match of each action wins.
    Optional days and hours (in `time_zone`) make business-hours and night routing."""

    name = models.CharField(max_length=100)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules",
        help_text="Leave empty for every service.",
    )
    position = models.PositiveIntegerField(default=100)
    enabled = models.BooleanField(default=True)
    match_field = models.CharField(
        max_length=16, choices=MatchField.choices, default=MatchField.SUMMARY
    )
    label = models.CharField(max_length=100, blank=True, help_text="For 'Label or detail'.")
    operator = models.CharField(
        max_length=10, choices=MatchOperator.choices, default=MatchOperator.CONTAINS
    )
    value = models.CharField(max_length=500, blank=True)
    weekdays = models.CharField(
        max_length=7, blank=True, help_text="Days it applies, 0=Monday … 6=Sunday, e.g. 01234."
    )
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True, help_text="May be before the start "
                                "(a night window crosses midnight).")
    time_zone = models.CharField(max_length=64, default="UTC", help_text="For days and hours.")
    action = models.CharField(max_length=10, choices=RuleAction.choices)
    severity = models.CharField(max_length=2, choices=Severity.choices, blank=True)
    escalation_policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class MaintenanceWindow(models.Model):
    """While it runs, alerts on the service are recorded and grouped but nobody is paged."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self):
        return f"{self.service}: {self.reason}"

    def clean(self):
        timerange.check(starts_at=self.starts_at, ends_at=self.ends_at)
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The window must end after it starts."})


class Heartbeat(models.Model):
    """A job pings its URL every `interval_minutes`; a missed ping raises an alert on the
    service, the next ping resolves it."""

    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, related_name="heartbeat"
    )
    interval_minutes = models.PositiveIntegerField(default=60)
    grace_minutes = models.PositiveIntegerField(default=5)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    is_down = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self):
        return str(self.integration)

    @property
    def due_at(self):
        since = self.last_ping_at or self.created_at
        return since + timedelta(minutes=self.interval_minutes + self.grace_minutes)
