import secrets
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
)
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from config import timerange
from oncall.channels.kinds import ContactKind, validate_address


class Team(models.Model):
    """A team owns services. Its members are the users of its auth group, so granting a team
    access to a restricted incident is a django-guardian grant to that group."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="team")
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def members(self):
        return self.group.user_set.all()


class EscalationPolicy(models.Model):
    """Who is paged, in which order, when an incident on a service is triggered. The steps,
    repeats and acknowledgement timeout belong to the on-call module; incidents only point here."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="escalation_policies"
    )
    repeat = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(9)],
        help_text="Run the whole policy again this many times when nobody acknowledges.")
    ack_timeout_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Page again when an acknowledged incident is still unresolved after this long.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self):
        return self.name


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/Berlin.")


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class Schedule(models.Model):
    """Who is on call when: layers of rotations (the top one wins), overrides on top. All wall
    times of its layers are in its own time zone."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules"
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Secret part of the calendar feed URL; calendar apps cannot send credentials.
    calendar_token = models.CharField(max_length=64, unique=True, default=new_feed_token,
                                      editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class TurnUnit(models.TextChoices):
    HOURS = "hours", "hours"
    DAYS = "days", "days"
    WEEKS = "weeks", "weeks"


class Layer(models.Model):
    """One rotation: participants take turns of `turn_length` units, handing over at
    `handoff_time`, starting on `start_date`; optionally only inside a daily window."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField(default=0, help_text="Higher layers win.")
    start_date = models.DateField()
    handoff_time = models.TimeField()
    turn_unit = models.CharField(max_length=5, choices=TurnUnit.choices, default=TurnUnit.WEEKS)
    turn_length = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)])
    restrict_start = models.TimeField(null=True, blank=True,
                                      help_text="On call only from this time of day…")
    restrict_end = models.TimeField(null=True, blank=True, help_text="…until this time of day.")
    restrict_weekdays = models.JSONField(
        default=list, blank=True, help_text="Only on these weekdays (0 = Monday); empty = all.")
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="LayerMember", related_name="+")

    class Meta:
        ordering = ["schedule", "rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "rank"], name="layer_schedule_rank_uniq"),
            models.CheckConstraint(condition=Q(turn_length__gte=1), name="layer_turn_length_gte_1"),
        ]

    def __str__(self):
        return f"{self.schedule} · {self.name}"

    def clean(self):
        timerange.check(start_date=self.start_date)
        if (self.restrict_start is None) != (self.restrict_end is None):
            raise ValidationError({"restrict_end": "Give both ends of the daily window, or none."})
        days = self.restrict_weekdays or []
        if not isinstance(days, list) or any(d not in range(7) for d in days):
            raise ValidationError({"restrict_weekdays": "Weekdays are numbers 0 (Monday) to 6."})


class LayerMember(models.Model):
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["layer", "position"]
        constraints = [
            models.UniqueConstraint(fields=["layer", "position"],
                                    name="layer_member_position_uniq"),
        ]

    def __str__(self):
        return f"{self.layer} #{self.position} {self.user}"


MAX_PERIOD = timedelta(days=90)


def check_period(start, end) -> None:
    """The period of an override or a swap: in range, end after start, at most MAX_PERIOD."""
    if start is None or end is None:
        raise ValidationError({"start": "Give a start and an end."})
    timerange.check(start=start, end=end)
    if end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    if end - start > MAX_PERIOD:
        raise ValidationError({"end": "A period can cover at most 90 days."})


class Override(models.Model):
    """Someone covers a period of a schedule, above every layer."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["schedule", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")),
                                   name="override_end_after_start"),
        ]
        indexes = [
            # final_shifts(): overrides of one schedule overlapping a window.
            models.Index(fields=["schedule", "end", "start"], name="override_window_idx"),
        ]

    def __str__(self):
        return f"{self.user} covers {self.schedule} {self.start:%Y-%m-%d %H:%M}"

    def clean(self):
        if self.start is None or self.end is None:
            return  # the missing field is its own error
        check_period(self.start, self.end)


class CalendarFeed(models.Model):
    """The secret token of a person's own on-call calendar feed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True, default=new_feed_token, editable=False)

    def __str__(self):
        return f"Calendar feed of {self.user}"


class EscalationStep(models.Model):
    """One step of a policy: page these targets, then wait `delay_minutes` before the next."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    delay_minutes = models.PositiveIntegerField(default=5, validators=[MinValueValidator(1)])
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    schedules = models.ManyToManyField(Schedule, blank=True, related_name="+",
                                       help_text="Whoever is on call on these schedules.")
    teams = models.ManyToManyField(Team, blank=True, related_name="+",
                                   help_text="Whoever is on call on the team's schedules.")

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"],
                                    name="step_policy_position_uniq"),
            models.CheckConstraint(condition=Q(delay_minutes__gte=1), name="step_delay_gte_1"),
        ]

    def __str__(self):
        return f"{self.policy} step {self.position + 1}"


class ContactMethod(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods")
    kind = models.CharField(max_length=8, choices=ContactKind.choices)
    address = models.CharField(max_length=500, help_text="Email address, URL or phone number.")
    label = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)
    # Throttle: at most this many messages per this many minutes (blank: the kind's default,
    # see oncall.channels.kinds.KINDS). Pages held back are sent together as one.
    throttle_count = models.PositiveSmallIntegerField(null=True, blank=True,
                                                      validators=[MinValueValidator(1)])
    throttle_minutes = models.PositiveSmallIntegerField(null=True, blank=True,
                                                        validators=[MinValueValidator(1)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "address"],
                                    name="contact_method_user_kind_address_uniq"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.address}"

    def clean(self):
        validate_address(self.kind, self.address)


class NotificationRule(models.Model):
    """Reach `user` through `contact_method` this many minutes after being paged. A user without
    rules is reached on every enabled method at once."""

    contact_method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE,
                                       related_name="rules")
    delay_minutes = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(1440)])

    class Meta:
        ordering = ["contact_method", "delay_minutes"]
        constraints = [
            models.UniqueConstraint(fields=["contact_method", "delay_minutes"],
                                    name="notification_rule_uniq"),
        ]

    def __str__(self):
        return f"{self.contact_method} after {self.delay_minutes} min"


class SwapState(models.TextChoices):
    OFFERED = "offered", "Offered"
    TAKEN = "taken", "Taken"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Swap(models.Model):
    """Someone offers part of their on-call time; whoever takes it covers it by an override.
    Either of them can undo it until it starts."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="swaps")
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                   related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=SwapState.choices, default=SwapState.OFFERED)
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    override = models.OneToOneField(Override, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="swap")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="swap_end_after_start"),
        ]

    def __str__(self):
        return f"{self.offered_by} offers {self.schedule} {self.start:%Y-%m-%d %H:%M}"

    def clean(self):
        timerange.check(start=self.start, end=self.end)


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class HandoffNotice(models.Model):
    """A hand-off notice ("on call from 18:00", "on call now"): the row makes it once, and is
    the outbox row its email is delivered from (config.outbox, oncall.services.NOTICES)."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    shift_start = models.DateTimeField()
    shift_end = models.DateTimeField(null=True, blank=True)  # for the text; empty on old rows
    kind = models.CharField(max_length=8, choices=[("upcoming", "Upcoming"), ("now", "Now")])
    status = models.CharField(max_length=8, choices=NoticeStatus.choices,
                              default=NoticeStatus.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schedule", "user", "shift_start", "kind"],
                                    name="handoff_notice_once"),
        ]
        indexes = [
            # services.NOTICES.due_ids(): pending notices whose (next) attempt is due.
            models.Index(fields=["due_at"], name="handoff_notice_pending_idx",
                         condition=Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.kind} notice to {self.user} for {self.schedule}"
