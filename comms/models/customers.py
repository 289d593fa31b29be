"""Customers (the CRM's accounts), their named contacts and contract SLA targets."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.models import CustomerTier, Incident, Severity

__all__ = ["Customer", "CustomerContact", "ContractTarget"]


class Customer(models.Model):
    name = models.CharField(max_length=200)
    external_id = models.CharField(
        max_length=100, null=True, blank=True, unique=True,
        help_text="The CRM's id; imports and the API update the customer with this id.")
    tier = models.ForeignKey(CustomerTier, on_delete=models.PROTECT, related_name="customers")
    csm = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="customers",
                            verbose_name="owning CSM")
    notes = models.TextField(blank=True, max_length=5000)
    # The incidents that affect this customer (incident.customers from the other side).
    incidents = models.ManyToManyField(Incident, blank=True, related_name="customers")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("report_issue", "Can report a customer issue (it opens an incident)")]
        constraints = [
            # Blank ids are stored as NULL (see save) so any number of customers may lack one.
            models.CheckConstraint(condition=~Q(external_id=""), name="customer_external_id_set"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.external_id = (self.external_id or "").strip() or None
        super().save(*args, **kwargs)


class CustomerContact(models.Model):
    """A named person at the customer who receives customer messages."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    role = models.CharField(max_length=100, blank=True, help_text="e.g. CTO, IT operations.")
    receives_updates = models.BooleanField(
        default=True, help_text="Send this contact the customer messages about incidents.")

    class Meta:
        ordering = ["customer", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "email"],
                                    name="customer_contact_email_uniq"),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"


class ContractTarget(models.Model):
    """A customer's contract SLA for one severity; it wins over the tier's targets. A blank
    target leaves the tier's in force."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE,
                                 related_name="contract_targets")
    severity = models.CharField(max_length=2, choices=Severity.choices)
    response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["customer", "severity"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "severity"],
                                    name="contract_target_once_per_severity"),
        ]

    def __str__(self):
        return f"{self.customer} {self.severity} contract"
