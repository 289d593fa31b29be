"""Customer messages, their per-recipient deliveries, the phase templates drafts are prepared
from, and each incident's update cadence. What may happen to a message is comms.messages'."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from comms.models.customers import Customer, CustomerContact
from incidents.models import Incident

__all__ = ["Phase", "MessageState", "CustomerMessage", "DeliveryStatus", "MessageDelivery",
           "MessageTemplate", "UpdateCadence"]


class Phase(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class MessageState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING = "pending", "Awaiting approval"
    PUBLISHED = "published", "Published"
    DISCARDED = "discarded", "Discarded"


class CustomerMessage(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT,
                                 related_name="customer_messages")
    phase = models.CharField(max_length=13, choices=Phase.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(max_length=10000)
    to_customers = models.BooleanField(
        default=True, help_text="Email the affected customers' contacts.")
    to_status_page = models.BooleanField(
        default=False, help_text="Show it on the public status page.")
    state = models.CharField(max_length=10, choices=MessageState.choices,
                             default=MessageState.DRAFT)
    # Relay prepared it from the phase's template when an update came due.
    prepared = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    # Bumped by every save; an edit made from an older version is refused (no silent overwrite).
    version = models.PositiveIntegerField(default=1)
    requires_approval = models.BooleanField(default=False)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    discarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    discarded_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    # SHA-256 of the normalised subject, body and audience: the same words to the same audience
    # are published once per incident.
    digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["incident", "created_at", "id"]
        permissions = [("publish_customermessage", "Can approve and publish customer messages")]
        constraints = [
            models.UniqueConstraint(fields=["incident", "digest"],
                                    condition=Q(state="published"),
                                    name="customer_message_published_once"),
        ]
        indexes = [
            models.Index(fields=["incident", "state"], name="customer_message_state_idx"),
        ]

    def __str__(self):
        return f"INC-{self.incident_id} {self.get_phase_display()}: {self.subject}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class MessageDelivery(models.Model):
    """One published message to one customer contact: an outbox row (config/outbox.py)."""

    message = models.ForeignKey(CustomerMessage, on_delete=models.PROTECT,
                                related_name="deliveries")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(CustomerContact, null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["message", "customer", "email"]
        verbose_name_plural = "message deliveries"
        constraints = [
            models.UniqueConstraint(fields=["message", "email"], name="message_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="message_delivery_due_idx",
                         condition=Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.message_id} → {self.email} ({self.status})"


class MessageTemplate(models.Model):
    """What a prepared draft says in a phase. Placeholders: {incident}, {severity}, {services},
    {impact}, {customers}, {updates}, {next_update}."""

    phase = models.CharField(max_length=13, choices=Phase.choices, unique=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(max_length=10000)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["phase"]

    def __str__(self):
        return f"{self.get_phase_display()} template"


class UpdateCadence(models.Model):
    """How often an incident's customers hear from us, set by its communications lead, and when
    the next update is due. The timer engine prepares a draft and reminds the lead at `due_at`."""

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT,
                                    related_name="update_cadence")
    minutes = models.PositiveIntegerField(validators=[MinValueValidator(5),
                                                      MaxValueValidator(7 * 24 * 60)])
    due_at = models.DateTimeField(null=True, blank=True,
                                  help_text="Empty once the incident is closed.")
    # The due time that was last reminded of: each due time reminds once.
    reminded_for = models.DateTimeField(null=True, blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], name="update_cadence_due_idx",
                         condition=Q(due_at__isnull=False)),
        ]

    def __str__(self):
        return f"INC-{self.incident_id} every {self.minutes} min"
