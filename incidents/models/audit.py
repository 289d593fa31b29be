"""The audit log: configuration and access changes, append-only and hash-chained like the
timeline (one chain for the whole log). Written only by incidents.audit.log()."""

from django.conf import settings
from django.db import models

__all__ = ["AuditEntry", "AuditHead", "AuditSource"]


class AuditSource(models.TextChoices):
    WEB = "web", "Portal"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Command"
    SYSTEM = "system", "System"


class AuditHead(models.Model):
    """The log's one counter row. log() bumps it with an UPDATE that row-locks it until commit,
    so sequence numbers and previous hashes cannot race (as Incident.timeline_seq does)."""

    seq = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"audit log head #{self.seq}"


class AuditEntry(models.Model):
    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    # No database constraint: a user may be deleted, their audit lines may not (and cannot be
    # updated to NULL: the table is append-only). actor_label keeps the name.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=10, choices=AuditSource.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="audit_entries")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    secrets_changed = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self):
        return f"audit #{self.seq} {self.action} {self.object_repr}"
