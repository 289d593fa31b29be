"""Paging: escalation runs, the outbox of pages, and the page links that acted."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.models.core import Incident
from oncall.models import ContactKind, ContactMethod

__all__ = [
    "RunState",
    "EscalationRun",
    "PagePurpose",
    "PageStatus",
    "Page",
    "PageAction",
]


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
    # Anything else Relay tells a person about an incident (incidents.paging.notify): the owning
    # team's lead hearing of a declaration, SLA warnings, a customer update coming due.
    NOTICE = "notice", "Notice"


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
    # Empty for notices (incidents.paging.notify), which no escalation sends.
    run = models.ForeignKey(EscalationRun, null=True, blank=True, on_delete=models.PROTECT,
                            related_name="pages")
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
    # Notices only: why (a key that makes each notice once, e.g. "sla:12:amber") and what it says.
    reason = models.CharField(max_length=100, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "purpose", "step", "round", "user", "channel", "address",
                        "reason"],
                name="page_once_per_step_person_channel_reason"),
        ]
        indexes = [
            # escalation.due_pages(): pending pages whose time has come.
            models.Index(fields=["due_at"], name="page_pending_due_idx",
                         condition=Q(status="pending")),
            # delivery._recent_sends(): messages over one contact method in the throttle window.
            models.Index(fields=["user", "channel", "address", "sent_at"],
                         name="page_sent_by_method_idx", condition=Q(sent_at__isnull=False)),
            # Insights' on-call load: pages (not notices) created in a date range.
            models.Index(fields=["created_at"], name="page_created_idx",
                         condition=Q(purpose="page")),
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
