"""The incident core: services, customer tiers, incidents, their lifecycle and timeline."""
import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from oncall.models import EscalationPolicy, Team

__all__ = [
    "Severity",
    "SEVERITY_DESCRIPTIONS",
    "TRANSITIONS",
    "SYSTEM_TRANSITIONS",
    "Status",
    "OPEN_STATUSES",
    "CLOSED_STATUSES",
    "MILESTONES",
    "CustomerTier",
    "validate_uri",
    "Service",
    "IS_CLOSED",
    "IncidentQuerySet",
    "Incident",
    "EntryKind",
    "TimelineEntry",
    "IncidentUserObjectPermission",
    "IncidentGroupObjectPermission",
]


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
# The order work moves in; a move to an earlier status goes back (or reopens) and is confirmed.
LIFECYCLE_ORDER = (*OPEN_STATUSES, Status.RESOLVED)

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
    # Alert intake (see incidents/models/intake.py).
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
            # Insights and reports: incidents that started in a date range.
            models.Index(fields=["started_at"], name="incident_started_idx"),
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

    def status_menu(self) -> list[tuple[str, bool]]:
        """The statuses a person may move to, as (status, goes_back), in the order a menu offers
        them: the next step of the work first, then further forward, declining, and last the
        steps back (nearest first) that a person must confirm."""
        here = LIFECYCLE_ORDER.index(self.status) if self.status in LIFECYCLE_ORDER else 0
        allowed = self.allowed_next()
        forward = [s for s in LIFECYCLE_ORDER[here + 1:] if s in allowed]
        back = [s for s in reversed(LIFECYCLE_ORDER[:here]) if s in allowed]
        other = [s for s in allowed if s not in forward and s not in back]
        return [(s, False) for s in forward + other] + [(s, True) for s in back]

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
    # Customer communications (comms): clocks started, recomputed, paused or resumed (the
    # entry's data["action"] says which), warnings and breaches; customer messages drafted,
    # submitted, approved, discarded, failing delivery or coming due (data["action"]), and
    # published.
    SLA = "sla", "SLA clocks"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACH = "sla_breach", "SLA breached"
    CUSTOMERS = "customers", "Affected customers changed"
    MESSAGE = "message", "Customer message"
    MESSAGE_PUBLISHED = "message_published", "Customer message published"
    POSTMORTEM = "postmortem", "Post-mortem"
    # The public status page (comms.status): a component this incident moved.
    STATUS_PAGE = "status_page", "Status page"
    # A structured status update (services.post_update): status, what we know, what we are doing
    # and when the next update is expected, in data; the source of customer-message drafts.
    UPDATE = "update", "Status update"


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
    # Ed25519 over the hash (incidents/signing.py), by a key the database never holds. NULL only
    # for entries written before signing began; checkpoints cover those.
    signature = models.CharField(max_length=100, null=True, blank=True)

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
