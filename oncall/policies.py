"""Escalation policies as data: a snapshot a run can keep, the people a step reaches at a given
moment, and how each person wants to be reached."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Prefetch

from oncall import schedules
from oncall.models import ContactMethod, EscalationPolicy, EscalationStep, Schedule


def snapshot(policy: EscalationPolicy) -> dict:
    """The policy as it is now, so later edits do not change a run already under way."""
    steps = policy.steps.order_by("position").prefetch_related("users", "schedules", "teams")
    return {
        "policy": policy.pk,
        "name": policy.name,
        "repeat": policy.repeat,
        "ack_timeout_minutes": policy.ack_timeout_minutes,
        "steps": [{
            "delay_minutes": step.delay_minutes,
            "users": sorted(u.pk for u in step.users.all()),
            "schedules": sorted(s.pk for s in step.schedules.all()),
            "teams": sorted(t.pk for t in step.teams.all()),
        } for step in steps],
    }


def resolve_targets(step: dict, at: datetime) -> list:
    """Users a snapshot step reaches at `at`: its users, then whoever is on call on its
    schedules and on its teams' schedules, each person once, in that order."""
    on_call = Schedule.objects.filter(pk__in=step["schedules"]) | Schedule.objects.filter(
        team__in=step["teams"])
    ids = list(step["users"])
    for schedule in on_call.distinct().order_by("pk"):
        person = schedules.who_is_on_call(schedule, at)
        if person is not None:
            ids.append(person.pk)
    users = get_user_model().objects.in_bulk(ids)
    return [users[i] for i in dict.fromkeys(ids) if i in users and users[i].is_active]


def targets(step: EscalationStep, at: datetime) -> list:
    """Users a stored step reaches at `at`."""
    return resolve_targets({
        "users": [u.pk for u in step.users.all()],
        "schedules": [s.pk for s in step.schedules.all()],
        "teams": [t.pk for t in step.teams.all()],
    }, at)


@dataclass(frozen=True)
class Contact:
    method: ContactMethod
    delay_minutes: int


def contact_plan(users) -> dict[int, list[Contact]]:
    """For each user id: the methods to use and after how many minutes (its rules, or every
    enabled method at once when it has none)."""
    methods = ContactMethod.objects.filter(user__in=users, enabled=True).prefetch_related(
        Prefetch("rules"))
    plan: dict[int, list[Contact]] = {u.pk: [] for u in users}
    ruled = {m.user_id for m in methods if m.rules.all()}
    for method in methods:
        rules = list(method.rules.all())
        if rules:
            # One page per method: a person's rule decides only when that method is used.
            plan[method.user_id].append(Contact(method, min(r.delay_minutes for r in rules)))
        elif method.user_id not in ruled:
            plan[method.user_id].append(Contact(method, 0))
    return plan


def unreachable(users) -> list:
    """People with no enabled contact method: a page to them cannot arrive."""
    reachable = set(ContactMethod.objects.filter(user__in=users, enabled=True)
                    .values_list("user_id", flat=True))
    return [u for u in users if u.pk not in reachable]
