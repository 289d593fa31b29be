"""Outgoing webhooks: subscriptions and the outbox of their deliveries."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config import outbound
from incidents.models.core import Incident, Service

__all__ = [
    "WebhookEvent",
    "WebhookSubscription",
    "DeliveryStatus",
    "WebhookDelivery",
]


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
            # webhooks.outbox.retry_due(): pending rows whose next attempt is due.
            models.Index(
                fields=["next_attempt_at"], name="delivery_pending_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self):
        return f"{self.event} → {self.subscription}"


# --- Escalation runs and pages
