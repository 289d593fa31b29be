"""Alert rules: severity, suppression and routing, evaluated for each new alert in order, and
maintenance windows. Pure functions of an alert and the rules, so the preview on the rule pages
shows exactly what intake would do."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db.models import Q

from incidents.models import (
    Alert,
    AlertRule,
    MaintenanceWindow,
    MatchField,
    MatchOperator,
    RuleAction,
)


@dataclass
class Decision:
    severity: str
    drop: bool = False
    quiet: bool = False
    escalation_policy: object = None
    matched: list[str] = field(default_factory=list)

    @property
    def pages(self) -> bool:
        return not (self.drop or self.quiet)


def rules_for(service) -> list[AlertRule]:
    rules = AlertRule.objects.filter(Q(service=None) | Q(service=service), enabled=True)
    return list(rules.select_related("escalation_policy").order_by("position", "id"))


def decide(alert: Alert, rules: list[AlertRule], at: datetime) -> Decision:
    """The first matching rule of each action decides that aspect of the alert."""
    decision = Decision(severity=alert.severity)
    decided: set[str] = set()
    for rule in rules:
        suppress = rule.action in (RuleAction.DROP, RuleAction.QUIET)
        aspect = "suppress" if suppress else rule.action
        if aspect in decided or not matches(rule, alert, at):
            continue
        decided.add(aspect)
        decision.matched.append(rule.name)
        _apply(rule, decision)
    return decision


def _apply(rule: AlertRule, decision: Decision) -> None:
    if rule.action == RuleAction.SEVERITY:
        decision.severity = rule.severity or decision.severity
    elif rule.action == RuleAction.DROP:
        decision.drop = True
    elif rule.action == RuleAction.QUIET:
        decision.quiet = True
    elif rule.action == RuleAction.ROUTE:
        decision.escalation_policy = rule.escalation_policy
        decision.severity = rule.severity or decision.severity


def matches(rule: AlertRule, alert: Alert, at: datetime) -> bool:
    return _in_time(rule, at) and _text_matches(rule, _field_text(rule, alert))


def _field_text(rule: AlertRule, alert: Alert) -> str | None:
    details = alert.details or {}
    if rule.match_field == MatchField.ANY:
        return None
    if rule.match_field == MatchField.LABEL:
        value = _lookup_label(details, rule.label)
        return None if value is None else str(value)
    if rule.match_field == MatchField.TEXT:
        return f"{alert.summary}\n{details}"
    if rule.match_field == MatchField.SOURCE_SEVERITY:
        return alert.details.get("source_severity", "")
    return getattr(alert, rule.match_field, "")


def _lookup_label(details: dict, name: str):
    for container in (details.get("labels"), details.get("custom_details"), details):
        if isinstance(container, dict) and name in container:
            return container[name]
    return None


def _text_matches(rule: AlertRule, text: str | None) -> bool:
    if rule.match_field == MatchField.ANY:
        return True
    if text is None:
        return False
    if rule.operator == MatchOperator.EQUALS:
        return text == rule.value
    if rule.operator == MatchOperator.REGEX:
        return re.search(rule.value, text) is not None
    return rule.value.casefold() in text.casefold()


def _in_time(rule: AlertRule, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(rule.time_zone or "UTC"))
    if rule.weekdays and str(local.weekday()) not in rule.weekdays:
        return False
    start, end = rule.start_time, rule.end_time
    if start is None or end is None:
        return True
    now = local.time()
    # A window whose end is before its start crosses midnight (a night shift).
    return start <= now < end if start <= end else (now >= start or now < end)


def validate(rule: AlertRule) -> None:
    """Field errors a rule form or the admin shows before saving."""
    errors = {}
    if rule.operator == MatchOperator.REGEX:
        try:
            re.compile(rule.value)
        except re.error as error:
            errors["value"] = f"Not a valid regular expression: {error}."
    if rule.match_field == MatchField.LABEL and not rule.label:
        errors["label"] = "Name the label or detail to match."
    if rule.match_field not in (MatchField.ANY,) and not rule.value:
        errors["value"] = "Give the text to match."
    if rule.action == RuleAction.SEVERITY and not rule.severity:
        errors["severity"] = "Choose the severity to set."
    if rule.action == RuleAction.ROUTE and not (rule.escalation_policy_id or rule.severity):
        errors["escalation_policy"] = "Choose an escalation policy or a severity to route to."
    if set(rule.weekdays) - set("0123456"):
        errors["weekdays"] = "Use digits 0 (Monday) to 6 (Sunday)."
    if (rule.start_time is None) != (rule.end_time is None):
        errors["end_time"] = "Give both a start and an end time, or neither."
    try:
        ZoneInfo(rule.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = f"Unknown time zone {rule.time_zone!r}."
    if errors:
        raise ValidationError(errors)


def active_window(service, at: datetime) -> MaintenanceWindow | None:
    return MaintenanceWindow.objects.filter(
        service=service, starts_at__lte=at, ends_at__gt=at).order_by("starts_at").first()


def windows_not_over(service, at: datetime) -> list[MaintenanceWindow]:
    """The windows intake may meet from `at` on (what it caches per service)."""
    return list(MaintenanceWindow.objects.filter(service=service, ends_at__gt=at)
                .order_by("starts_at"))


def active_among(windows: list[MaintenanceWindow], at: datetime) -> MaintenanceWindow | None:
    return next((w for w in windows if w.starts_at <= at < w.ends_at), None)


PREVIEW_ALERTS = 50


def preview(rule: AlertRule, alerts, at: datetime | None = None) -> list[tuple[Alert, bool]]:
    """Which of these recent alerts the rule would match (at their first_seen time, or at `at`)."""
    return [(alert, matches(rule, alert, at or alert.first_seen)) for alert in alerts]
