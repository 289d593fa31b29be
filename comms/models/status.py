"""The public status page: its branding, components in groups, their recorded history (the
uptime bars), scheduled maintenance, the incidents shown on it, and its subscribers with the
outbox of their notices. What may happen to them is comms.status's.

Everything public carries an opaque `code` (Statuspage's ids look the same): internal primary
keys, which count every incident including restricted ones, never leave the portal."""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from comms.models.messages import CustomerMessage
from config import outbound
from incidents.models import Incident, MaintenanceWindow, Service
from incidents.models.core import validate_uri
from oncall.models import validate_time_zone

__all__ = ["new_code", "ComponentStatus", "STATUS_RANK", "StatusPage", "ComponentGroup",
           "Component", "ComponentChange", "MaintenanceState", "Maintenance",
           "MaintenanceUpdate", "PublicIncident", "SubscriberKind", "Subscriber",
           "NoticeKind", "NoticeStatus", "SubscriberNotice"]


def new_code() -> str:
    """12 characters of [a-z0-9], the shape of Statuspage's ids."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


class ComponentStatus(models.TextChoices):
    """Statuspage's component statuses, value for value."""
    OPERATIONAL = "operational", "Operational"
    DEGRADED = "degraded_performance", "Degraded performance"
    PARTIAL = "partial_outage", "Partial outage"
    MAJOR = "major_outage", "Major outage"
    MAINTENANCE = "under_maintenance", "Under maintenance"


# Worse is higher: the page's overall status is its worst component's.
STATUS_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.MAINTENANCE: 1,
    ComponentStatus.DEGRADED: 2,
    ComponentStatus.PARTIAL: 3,
    ComponentStatus.MAJOR: 4,
}


class StatusPage(models.Model):
    """The one status page's branding (a single row, pk 1: StatusPage.load())."""

    name = models.CharField(max_length=100, default="Relay status")
    about = models.TextField(max_length=2000, blank=True,
                             help_text="A sentence under the name (plain text).")
    logo_url = models.URLField(max_length=500, blank=True, validators=[validate_uri],
                               help_text="An https image address; the name is shown without it.")
    accent_colour = models.CharField(
        max_length=7, default="#1d4ed8",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #rrggbb.")])
    support_url = models.URLField(max_length=500, blank=True, validators=[validate_uri],
                                  help_text="Where customers ask for help.")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone],
                                 help_text="Times on the page are shown in this zone.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name

    @classmethod
    def load(cls) -> "StatusPage":
        page, _ = cls.objects.get_or_create(pk=1)
        return page


class ComponentGroup(models.Model):
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=500, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class Component(models.Model):
    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=500, blank=True)
    group = models.ForeignKey(ComponentGroup, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="components")
    position = models.PositiveIntegerField(default=0)
    services = models.ManyToManyField(
        Service, blank=True, related_name="status_components",
        help_text="Incidents on these services move the component (when it follows them).")
    follows_incidents = models.BooleanField(
        default=True, help_text="Show the worst open incident on its services: P1 major outage, "
        "P2 partial outage, P3 and P4 degraded performance. A status set by hand holds until "
        "the next change of one of those incidents.")
    internal = models.BooleanField(
        default=False, help_text="Shown only on the internal status page, to staff.")
    status = models.CharField(max_length=20, choices=ComponentStatus.choices,
                              default=ComponentStatus.OPERATIONAL)
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class ComponentChange(models.Model):
    """One change of a component's status, append-only: the uptime bars are computed from it."""

    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="changes")
    at = models.DateTimeField(default=timezone.now)
    old_status = models.CharField(max_length=20, choices=ComponentStatus.choices)
    new_status = models.CharField(max_length=20, choices=ComponentStatus.choices)
    # What caused it: an incident, a maintenance, or a person (by hand).
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    maintenance = models.ForeignKey("Maintenance", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                           on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["component", "at", "id"]
        indexes = [models.Index(fields=["component", "at"], name="component_change_at_idx")]

    def __str__(self):
        return f"{self.component_id}: {self.old_status} → {self.new_status} at {self.at}"


class MaintenanceState(models.TextChoices):
    """Statuspage's scheduled-maintenance statuses."""
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"


class Maintenance(models.Model):
    """Scheduled maintenance: moves scheduled → in progress (at starts_at) → verifying (at
    ends_at) → completed (verify_minutes later) on its own, through the timer engine
    (`next_action_at`). Subscribers hear when it is scheduled and `remind_minutes` before it
    starts; its components show under maintenance while it is in progress or verifying."""

    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    name = models.CharField(max_length=200)
    body = models.TextField(max_length=10000, help_text="What customers are told (plain text).")
    components = models.ManyToManyField(Component, blank=True, related_name="maintenances")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    verify_minutes = models.PositiveIntegerField(
        default=15, validators=[MaxValueValidator(24 * 60)],
        help_text="How long it stays 'verifying' after its end before it completes.")
    remind_minutes = models.PositiveIntegerField(
        default=60, validators=[MaxValueValidator(7 * 24 * 60)],
        help_text="Subscribers are reminded this long before it starts (0: no reminder).")
    state = models.CharField(max_length=12, choices=MaintenanceState.choices,
                             default=MaintenanceState.SCHEDULED)
    # The timer engine's due time: the next reminder or transition; empty once completed.
    next_action_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # Alert intake's maintenance windows created from it (nobody is paged while it runs).
    windows = models.ManyToManyField(MaintenanceWindow, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["next_action_at"], name="maintenance_due_idx",
                                condition=Q(next_action_at__isnull=False))]

    def __str__(self):
        return self.name


class MaintenanceUpdate(models.Model):
    """One public update of a maintenance (its `incident_updates` in Statuspage's JSON)."""

    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    maintenance = models.ForeignKey(Maintenance, on_delete=models.CASCADE,
                                    related_name="updates")
    state = models.CharField(max_length=12, choices=MaintenanceState.choices)
    body = models.TextField(max_length=10000)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                           on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["maintenance", "at", "id"]

    def __str__(self):
        return f"{self.maintenance_id} {self.state} at {self.at}"


class PublicIncident(models.Model):
    """An incident as the status page shows it. Created when the first message for the status
    page is published: before that the incident is not on the page at all. Its updates are the
    incident's published status-page messages; a restricted incident is never shown."""

    code = models.CharField(max_length=12, unique=True, default=new_code, editable=False)
    incident = models.OneToOneField(Incident, on_delete=models.PROTECT,
                                    related_name="public_incident")
    # The first status-page message's subject: the incident's title is internal text.
    name = models.CharField(max_length=200)
    first_published_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-first_published_at", "-id"]

    def __str__(self):
        return self.name


class SubscriberKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class Subscriber(models.Model):
    """Someone who hears about incidents and maintenance: an email address (after confirming
    it: double opt-in) or a webhook endpoint (signed like outgoing webhooks). No components
    chosen means all of them."""

    kind = models.CharField(max_length=7, choices=SubscriberKind.choices)
    email = models.EmailField(blank=True)
    url = models.URLField(max_length=2000, blank=True, validators=[outbound.validate_url])
    secret = models.CharField(max_length=128, blank=True,
                              help_text="Signs each webhook body (HMAC-SHA256).")
    components = models.ManyToManyField(Component, blank=True, related_name="subscribers")
    # Identifies the subscriber in its signed confirm, manage and unsubscribe links.
    token = models.CharField(max_length=43, unique=True, default=secrets.token_urlsafe,
                             editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["email"], name="status_subscriber_email_once",
                                    condition=Q(kind="email", unsubscribed_at=None)),
        ]

    def __str__(self):
        return self.email or self.url

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class NoticeKind(models.TextChoices):
    CONFIRM = "confirm", "Confirm the subscription"
    INCIDENT_UPDATE = "incident_update", "Incident update"
    MAINTENANCE_SCHEDULED = "maintenance_scheduled", "Maintenance scheduled"
    MAINTENANCE_REMINDER = "maintenance_reminder", "Maintenance reminder"
    MAINTENANCE_UPDATE = "maintenance_update", "Maintenance update"


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class SubscriberNotice(models.Model):
    """One notice to one subscriber: an outbox row (config/outbox.py). `key` names what it is
    about ("message:12", "maintenance:3:reminder"): each is sent to a subscriber once."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=24, choices=NoticeKind.choices)
    key = models.CharField(max_length=60)
    message = models.ForeignKey(CustomerMessage, null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    maintenance = models.ForeignKey(Maintenance, null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="+")
    # The update it tells of (a maintenance's state change or an update posted by hand).
    maintenance_update = models.ForeignKey(MaintenanceUpdate, null=True, blank=True,
                                           on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=NoticeStatus.choices,
                              default=NoticeStatus.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "key"], name="subscriber_notice_once"),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="subscriber_notice_due_idx",
                         condition=Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.key} → {self.subscriber} ({self.status})"
