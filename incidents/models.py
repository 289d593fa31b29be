import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from config import outbound, timerange
from oncall.models import ContactKind, ContactMethod, EscalationPolicy, Team


class Severity(models.TextChoices):
    P1 = "P1", "P1 · Critical"
    P2 = "P2", "P2 · Major"
    P3 = "P3", "P3 · Minor"
    P4 = "P4", "P4 · Low"


SEVERITY_DESCRIPTIONS = {
    Severity.P1: "Critical: a core service is down or data is at risk for many customers.",
    Severity.P2: "Major: significant degradation or a key feature unavailable for some customers.",
    Severity.P3: "Minor: partial degradation with a workaround; customers barely notice.",
    Severity.P4: "Low: cosmetic or internal issue, no customer impact; handle in working hours.",
}


class Status(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    DECLINED = "declined", "Declined"
    MERGED = "merged", "Merged"


# The lifecycle, declared once. Work moves forward; a fix that did not hold sends monitoring back
# to investigating; resolved can be reopened. Merged is reached only through services.merge().
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.TRIGGERED: frozenset(
        {
            Status.ACKNOWLEDGED,
            Status.INVESTIGATING,
            Status.IDENTIFIED,
            Status.MONITORING,
            Status.RESOLVED,
            Status.DECLINED,
        }
    ),
    Status.ACKNOWLEDGED: frozenset(
        {
            Status.INVESTIGATING,
            Status.IDENTIFIED,
            Status.MONITORING,
            Status.RESOLVED,
            Status.DECLINED,
        }
    ),
    Status.INVESTIGATING: frozenset(
        {Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED, Status.DECLINED}
    ),
    Status.IDENTIFIED: frozenset({Status.INVESTIGATING, Status.MONITORING, Status.RESOLVED}),
    Status.MONITORING: frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.INVESTIGATING}),
    Status.DECLINED: frozenset(),
    Status.MERGED: frozenset(),
}
# Moves only Relay itself makes, never a person: an acknowledgement that timed out (the escalation
# policy's ack_timeout_minutes) puts the incident back to triggered, so it pages and can be
# acknowledged again. services.transition does not accept these.
SYSTEM_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.ACKNOWLEDGED: frozenset({Status.TRIGGERED}),
}
# Tuples, not sets: their order is the order of the SQL IN lists, which must be the same in
# every process for the urgency expression index below to match the dashboard's ORDER BY.
OPEN_STATUSES = (
    Status.TRIGGERED,
    Status.ACKNOWLEDGED,
    Status.INVESTIGATING,
    Status.IDENTIFIED,
    Status.MONITORING,
)
CLOSED_STATUSES = (Status.RESOLVED, Status.DECLINED, Status.MERGED)

# Milestones in the order they must keep; MTTA, MTTR and SLA figures are computed from them.
MILESTONES = ("started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at")


class CustomerTier(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    rank = models.PositiveSmallIntegerField(
        default=100, help_text="Lower ranks are more important."
    )

    class Meta:
        ordering = ["rank", "name"]

    def __str__(self):
        return self.name


# What RFC 3986 allows in a URI's userinfo, path, query and fragment: unreserved characters,
# sub-delimiters, ":@/?" and well-formed percent escapes; one "#" before the fragment.
_URI_CHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})"
_URI_TAIL = re.compile(rf"{_URI_CHAR}*(?:#{_URI_CHAR}*)?")


def validate_uri(value: str) -> None:
    """Django's URLField also takes IRIs and characters such as "|" or "[" in the path, which URI
    parsers refuse; the API documents the runbook URL as a URI, so only a URI is stored."""
    parts = urlsplit(value)
    userinfo = parts.netloc.rpartition("@")[0]
    tail = value[len(f"{parts.scheme}://{parts.netloc}"):]
    if not (value.isascii() and _URI_TAIL.fullmatch(userinfo) and _URI_TAIL.fullmatch(tail)):
        raise ValidationError(
            "Enter the address as a URI: percent-encode non-ASCII characters and characters "
            "such as | or [ ] outside the host.", code="invalid")


class Service(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    runbook_url = models.URLField(blank=True, validators=[validate_uri])
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    escalation_policy = models.ForeignKey(
        EscalationPolicy,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="services",
        help_text="Who is paged when an incident on this service is triggered.",
    )
    # Alert intake (see the "Alerts, integrations and rules" section below).
    auto_resolve = models.BooleanField(
        default=True, help_text="Resolve the incident when all of its alerts are resolved."
    )
    group_by = models.CharField(
        max_length=12, choices=[("service", "Service"), ("key", "Grouping key")],
        default="service",
        help_text="New alerts join the service's open incident, or only the one with the same "
        "grouping key (e.g. Alertmanager's groupKey).",
    )
    group_window_minutes = models.PositiveIntegerField(
        default=240, help_text="A new alert joins an open incident whose last alert is this recent."
    )
    stale_alert_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Close alerts with no new event for this many days."
    )
    flap_threshold = models.PositiveSmallIntegerField(
        default=3, help_text="Re-fires within the flap window that count as flapping."
    )
    flap_window_minutes = models.PositiveIntegerField(default=60)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


IS_CLOSED = models.Case(
    models.When(status__in=OPEN_STATUSES, then=models.Value(0)),
    default=models.Value(1),
    output_field=models.IntegerField(),
)


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def for_list(self):
        """Everything a list row shows, in a constant number of queries."""
        return self.select_related("commander", "comms_lead").prefetch_related("services")

    def by_urgency(self):
        """Open incidents first, then by severity, then oldest first (the one waiting longest)."""
        return self.annotate(is_closed=IS_CLOSED).order_by("is_closed", "severity", "started_at",
                                                          "id")


class Incident(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=20000)
    severity = models.CharField(max_length=2, choices=Severity.choices, default=Severity.P3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIGGERED)
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    customer_tiers = models.ManyToManyField(CustomerTier, blank=True, related_name="incidents")
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    comms_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="communications lead",
    )
    responders = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="responding_to"
    )
    restricted = models.BooleanField(
        default=False, help_text="Visible only to users and teams granted access (security, HR)."
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_incidents"
    )
    # Chosen when the incident is triggered (the service's policy, or a routing rule's).
    escalation_policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    started_at = models.DateTimeField(default=timezone.now)
    detected_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="Resolved, declined or merged."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Last timeline seq; bumped under the row lock that record() takes.
    timeline_seq = models.PositiveIntegerField(default=0, editable=False)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("view_all_restricted", "Can view every restricted incident"),
            ("correct_milestones", "Can correct milestones of any incident"),
        ]
        indexes = [
            # Dashboard: open incidents ordered by severity then age.
            models.Index(fields=["status", "severity", "started_at"], name="incident_urgency_idx"),
            # Dashboard with every status (by_urgency): open first, then severity, then age.
            models.Index(
                IS_CLOSED, "severity", "started_at", "id", name="incident_all_urgency_idx"
            ),
            # Visibility filter: unrestricted rows are the common case.
            models.Index(
                fields=["restricted"], name="incident_restricted_idx", condition=Q(restricted=True)
            ),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    @property
    def number(self) -> int:
        return self.pk

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def severity_description(self) -> str:
        return SEVERITY_DESCRIPTIONS[Severity(self.severity)]

    def allowed_next(self) -> list[str]:
        return [s for s in Status.values if s in TRANSITIONS[self.status]]

    def _since_start(self, until) -> timedelta | None:
        return (until - self.started_at) if until else None

    @property
    def time_open(self) -> timedelta:
        return (self.closed_at or timezone.now()) - self.started_at

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self._since_start(self.acknowledged_at)

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self._since_start(self.mitigated_at)

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self._since_start(self.resolved_at)


class EntryKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    STATUS = "status", "Status changed"
    SEVERITY = "severity", "Severity changed"
    ROLE = "role", "Role assigned"
    NOTE = "note", "Note"
    FIELD = "field", "Details changed"
    MILESTONE = "milestone", "Milestone corrected"
    RESTRICTION = "restriction", "Visibility changed"
    MERGED_INTO = "merged_into", "Merged into another incident"
    MERGE_RECEIVED = "merge_received", "Incident merged in"
    ALERT = "alert", "Alert"
    ALERT_RESOLVED = "alert_resolved", "Alert resolved"
    ESCALATION = "escalation", "Escalation"
    PAGE_SENT = "page_sent", "Page sent"
    PAGE_DELIVERED = "page_delivered", "Page delivered"
    PAGE_FAILED = "page_failed", "Page failed"
    NOTIFICATION = "notification", "People notified"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACH = "sla_breach", "SLA breached"
    MESSAGE_PUBLISHED = "message_published", "Customer message published"
    POSTMORTEM = "postmortem", "Post-mortem"


class TimelineEntry(models.Model):
    """One immutable, hash-chained line of an incident's history. Written only by
    incidents.timeline.record(); the database rejects UPDATE and DELETE (see migration 0002)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="Who acted when not a user."
    )
    created_at = models.DateTimeField()
    old_value = models.CharField(max_length=500, blank=True)
    new_value = models.CharField(max_length=500, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["incident_id", "seq"]
        verbose_name_plural = "timeline entries"
        constraints = [
            models.UniqueConstraint(fields=["incident", "seq"], name="timeline_incident_seq_uniq"),
        ]

    def __str__(self):
        return f"INC-{self.incident_id} #{self.seq} {self.kind}"


# django-guardian with direct foreign keys: grants on restricted incidents join by integer key,
# so the visibility filter (permissions.visible_incidents) stays one indexed query.
class IncidentUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Incident, on_delete=models.CASCADE)


class IncidentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Incident, on_delete=models.CASCADE)


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


class WebhookEvent(models.TextChoices):
    DECLARED = "incident.declared", "Declared"
    ACKNOWLEDGED = "incident.acknowledged", "Acknowledged"
    STATUS_CHANGED = "incident.status_changed", "Status changed"
    SEVERITY_CHANGED = "incident.severity_changed", "Severity changed"
    RESOLVED = "incident.resolved", "Resolved"
    NOTE_ADDED = "incident.note_added", "Note added"


class WebhookSubscription(models.Model):
    """Incident events POSTed as signed JSON to an automation endpoint."""

    name = models.CharField(max_length=100)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks",
        help_text="Leave empty for incidents of every service.",
    )
    # The save-time check; config.outbound checks again when sending (DNS can change).
    url = models.URLField(max_length=2000, validators=[outbound.validate_url])
    secret = models.CharField(max_length=128, help_text="Signs each body (HMAC-SHA256).")
    events = models.JSONField(default=list, help_text="Event names; empty for all.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one subscription: an outbox row first, then attempts until delivered."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # webhooks.retry_due(): pending rows whose next attempt is due.
            models.Index(
                fields=["next_attempt_at"], name="delivery_pending_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self):
        return f"{self.event} → {self.subscription}"


# --- Escalation runs and pages

class RunState(models.TextChoices):
    ACTIVE = "active", "Paging"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    EXHAUSTED = "exhausted", "Every step paged, nobody acknowledged"
    STOPPED = "stopped", "Stopped"


class EscalationRun(models.Model):
    """The escalation of one incident. Its due time lives here, not in a task queue: whatever
    wakes up (a tick, a restarted worker) recomputes what to do from this row."""

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT,
                                    related_name="escalation_run")
    policy = models.JSONField(help_text="Snapshot of the escalation policy when triggered.")
    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.ACTIVE)
    next_step = models.PositiveSmallIntegerField(default=0)
    round = models.PositiveSmallIntegerField(default=0)
    # Rounds before this one belong to earlier triggers (acknowledgement timeouts).
    first_round = models.PositiveSmallIntegerField(default=0)
    next_action_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # escalation.due_runs(): runs whose next action is due, oldest first.
            models.Index(fields=["next_action_at"], name="run_due_idx",
                         condition=Q(next_action_at__isnull=False)),
        ]

    def __str__(self):
        return f"Escalation of INC-{self.incident_id} ({self.state})"


class PagePurpose(models.TextChoices):
    PAGE = "page", "Page"
    ACKNOWLEDGED = "acknowledged", "Acknowledged notice"
    RESOLVED = "resolved", "Resolved notice"


class PageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    SENT = "sent", "Sent (carrier)"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Page(models.Model):
    """A message to one person over one contact method: a row first (outbox), then delivered by
    a task that claims it. The unique key makes a step page each person on each method once."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="pages")
    run = models.ForeignKey(EscalationRun, on_delete=models.PROTECT, related_name="pages")
    purpose = models.CharField(max_length=12, choices=PagePurpose.choices,
                               default=PagePurpose.PAGE)
    step = models.PositiveSmallIntegerField()
    round = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    contact_method = models.ForeignKey(ContactMethod, null=True, on_delete=models.SET_NULL,
                                       related_name="+")
    channel = models.CharField(max_length=8, choices=ContactKind.choices)
    address = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=PageStatus.choices,
                              default=PageStatus.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Pages sent together as one message share the bundle (the id of the first); sent_at is
    # when that message went out, for the per-method throttle.
    bundle_id = models.BigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    receipt = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "purpose", "step", "round", "user", "channel", "address"],
                name="page_once_per_step_person_channel"),
        ]
        indexes = [
            # escalation.due_pages(): pending pages whose time has come.
            models.Index(fields=["due_at"], name="page_pending_due_idx",
                         condition=Q(status="pending")),
            # delivery._recent_sends(): messages over one contact method in the throttle window.
            models.Index(fields=["user", "channel", "address", "sent_at"],
                         name="page_sent_by_method_idx", condition=Q(sent_at__isnull=False)),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} INC-{self.incident_id} → {self.user} ({self.channel})"


class PageAction(models.Model):
    """A page's signed link or email reply that has acted. One row per page and action: the
    unique constraint makes each link act once, even when two clicks race."""

    page = models.ForeignKey(Page, on_delete=models.PROTECT, related_name="actions")
    action = models.CharField(max_length=12)
    via = models.CharField(max_length=20, blank=True)
    acted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["page", "action"], name="page_action_once"),
        ]

    def __str__(self):
        return f"{self.action} through page {self.page_id}"
