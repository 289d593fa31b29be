from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

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
OPEN_STATUSES = frozenset(
    {
        Status.TRIGGERED,
        Status.ACKNOWLEDGED,
        Status.INVESTIGATING,
        Status.IDENTIFIED,
        Status.MONITORING,
    }
)
CLOSED_STATUSES = frozenset({Status.RESOLVED, Status.DECLINED, Status.MERGED})

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


class Service(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    runbook_url = models.URLField(blank=True)
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

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def for_list(self):
        """Everything a list row shows, in a constant number of queries."""
        return self.select_related("commander", "comms_lead").prefetch_related("services")

    def by_urgency(self):
        """Open incidents first, then by severity, then oldest first (the one waiting longest)."""
        return self.annotate(
            is_closed=models.Case(
                models.When(status__in=OPEN_STATUSES, then=models.Value(0)),
                default=models.Value(1),
                output_field=models.IntegerField(),
            )
        ).order_by("is_closed", "severity", "started_at", "id")


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
            # delivery._recent_sends(): messages to one address in the throttle window.
            models.Index(fields=["channel", "address", "sent_at"], name="page_sent_by_address_idx",
                         condition=Q(sent_at__isnull=False)),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} INC-{self.incident_id} → {self.user} ({self.channel})"
