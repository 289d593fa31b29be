"""Post-mortems, their reviews and published revisions, and the action items they produce.

A post-mortem belongs to one incident and follows its visibility. Its facts are drafted from the
record (postmortems.facts) and can be redrafted at any time; the blameless sections are written by
people and never touched by a redraft. What may happen to them is postmortems.services'; reminders
of action items are postmortems.reminders'.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident, Severity, validate_uri

__all__ = ["Level", "DEFAULT_LEVEL", "State", "SECTIONS", "Postmortem", "Verdict", "Review",
           "Revision", "ItemKind", "Priority", "ItemStatus", "ActionItem"]


class Level(models.TextChoices):
    NONE = "none", "None"
    SUMMARY = "summary", "Lightweight summary"
    FULL = "full", "Full post-mortem"


# What an incident gets unless its commander chooses otherwise.
DEFAULT_LEVEL = {
    Severity.P1: Level.FULL,
    Severity.P2: Level.FULL,
    Severity.P3: Level.SUMMARY,
    Severity.P4: Level.NONE,
}


class State(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


# The sections people write: (field, heading, prompt, in the lightweight summary too).
SECTIONS = (
    ("summary", "Summary",
     "What happened and what it meant for customers, in a few sentences.", True),
    ("contributing_factors", "Contributing factors",
     "The root cause and the other conditions that let it happen. Systems and decisions, "
     "never blame.", False),
    ("went_well", "What went well", "What helped: keep doing it.", False),
    ("went_badly", "What went badly", "What slowed the response or made it worse.", False),
    ("got_lucky", "Where we got lucky", "What went right by chance and will not next time.",
     False),
    ("learnings", "Learnings", "What we understand now that we did not before.", True),
)
SECTION_MAX = 20000


class Postmortem(models.Model):
    incident = models.OneToOneField(Incident, on_delete=models.PROTECT,
                                    related_name="postmortem")
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.FULL)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    # The revision being written or, once published, the one shown. A correction after
    # publication starts the next one.
    revision = models.PositiveIntegerField(default=1)
    # Drafted from the record by postmortems.facts; rewritten by every redraft.
    facts = models.JSONField(default=dict, blank=True)
    facts_seq = models.PositiveIntegerField(
        default=0, help_text="How many timeline entries the facts were drawn from.")
    facts_at = models.DateTimeField(null=True, blank=True)
    # When the drafting timer should (re)write the facts: set in the transaction that resolves
    # the incident, so a worker killed before drafting loses nothing.
    draft_due_at = models.DateTimeField(null=True, blank=True)

    summary = models.TextField(blank=True, max_length=SECTION_MAX)
    # Relay writes a first summary; once a person edits it, it is theirs and a redraft keeps it.
    summary_edited = models.BooleanField(default=False)
    contributing_factors = models.TextField(blank=True, max_length=SECTION_MAX)
    went_well = models.TextField(blank=True, max_length=SECTION_MAX)
    went_badly = models.TextField(blank=True, max_length=SECTION_MAX)
    got_lucky = models.TextField(blank=True, max_length=SECTION_MAX)
    learnings = models.TextField(blank=True, max_length=SECTION_MAX)

    # Bumped by every save of the sections; a save made from an older version is refused.
    version = models.PositiveIntegerField(default=1)
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    edited_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    # Why the revision being written corrects a published one.
    correction_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-incident_id"]
        indexes = [
            models.Index(fields=["draft_due_at"], name="postmortem_draft_due_idx",
                         condition=Q(draft_due_at__isnull=False)),
            models.Index(fields=["state", "published_at"], name="postmortem_state_idx"),
        ]

    def __str__(self):
        return f"Post-mortem of INC-{self.incident_id}"

    def sections(self) -> list[dict]:
        """The human sections this level shows, in order."""
        return [{"name": name, "heading": heading, "prompt": prompt, "text": getattr(self, name)}
                for name, heading, prompt, in_summary in SECTIONS
                if self.level == Level.FULL or in_summary]


class Verdict(models.TextChoices):
    PENDING = "pending", "Review requested"
    APPROVED = "approved", "Approved"
    CHANGES = "changes", "Changes requested"


class Review(models.Model):
    """A named reviewer of a post-mortem and their verdict on the current round."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="postmortem_reviews")
    verdict = models.CharField(max_length=8, choices=Verdict.choices, default=Verdict.PENDING)
    comment = models.TextField(blank=True, max_length=5000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["postmortem", "id"]
        constraints = [
            models.UniqueConstraint(fields=["postmortem", "reviewer"],
                                    name="postmortem_reviewer_once"),
        ]
        indexes = [models.Index(fields=["reviewer", "verdict"], name="review_reviewer_idx")]

    def __str__(self):
        return f"Review of INC-{self.postmortem.incident_id} by {self.reviewer}"


class Revision(models.Model):
    """A published revision, frozen: the document as Markdown and its content as JSON."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.PROTECT,
                                   related_name="revisions")
    number = models.PositiveIntegerField()
    markdown = models.TextField()
    content = models.JSONField(default=dict)
    reason = models.CharField(max_length=500, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["postmortem", "number"]
        constraints = [
            models.UniqueConstraint(fields=["postmortem", "number"],
                                    name="postmortem_revision_once"),
        ]

    def __str__(self):
        return f"Revision {self.number} of INC-{self.postmortem.incident_id}"


class ItemKind(models.TextChoices):
    DETECT = "detect", "Detect"
    PREVENT = "prevent", "Prevent"
    MITIGATE = "mitigate", "Mitigate"
    PROCESS = "process", "Process"


class Priority(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    ACCEPTED = "accepted", "Accepted as is"


OPEN_ITEM_STATUSES = (ItemStatus.OPEN, ItemStatus.IN_PROGRESS)
FINISHED_ITEM_STATUSES = (ItemStatus.DONE, ItemStatus.ACCEPTED)


class ActionItem(models.Model):
    postmortem = models.ForeignKey(Postmortem, on_delete=models.PROTECT,
                                   related_name="action_items")
    # The post-mortem's incident, kept on the row: visibility and insights filter by it.
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="action_items")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.PROTECT, related_name="action_items")
    due_on = models.DateField()
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.MEDIUM)
    kind = models.CharField(max_length=8, choices=ItemKind.choices, default=ItemKind.PREVENT)
    status = models.CharField(max_length=11, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    ticket_url = models.URLField(blank=True, max_length=500, validators=[validate_uri],
                                 help_text="The issue in your tracker, if there is one.")
    # Why the item is accepted without being done (a decision, on the record).
    accepted_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # The next reminder to the owner (before the due date, then on it); empty once both went
    # out or the item is finished. The timer engine scans it (postmortems.reminders).
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["next_reminder_at"], name="action_item_reminder_idx",
                         condition=Q(next_reminder_at__isnull=False)),
            models.Index(fields=["owner", "status", "due_on"], name="action_item_owner_idx"),
            models.Index(fields=["status", "due_on"], name="action_item_due_idx"),
            # Insights: items created in a date range.
            models.Index(fields=["created_at"], name="action_item_created_idx"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ITEM_STATUSES

    def is_overdue(self, today=None) -> bool:
        return self.is_open and self.due_on < (today or timezone.localdate())
