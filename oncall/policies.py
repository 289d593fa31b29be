"""Escalation policies as data: a snapshot a run can keep, the people a step reaches at a given
moment, and how each person wants to be reached."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q

from oncall import rotation, schedules
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


@dataclass(frozen=True)
class StepOverview:
    step: EscalationStep
    now: list  # whom the step reaches now, in paging order
    unreachable: list  # of those, people without an enabled contact method
    gaps: list  # (schedule, gaps in the next two weeks) of its schedules and its teams'


def overview(policy: EscalationPolicy, now: datetime) -> list[StepOverview]:
    """The policy page: each step as targets() and unreachable() see it now, and its schedules'
    gaps, in a fixed number of queries however many steps and schedules there are."""
    steps = list(policy.steps.order_by("position").prefetch_related("users", "schedules",
                                                                    "teams"))
    schedule_ids = {s.pk for step in steps for s in step.schedules.all()}
    team_ids = {t.pk for step in steps for t in step.teams.all()}
    found = schedules.with_specs(now, now + schedules.HORIZON, Schedule.objects.filter(
        Q(pk__in=schedule_ids) | Q(team__in=team_ids)).order_by("pk"))
    on_call = {s.pk: rotation.who_is_on_call(spec, now) for s, spec in found}
    holes = {s.pk: rotation.gaps(spec, now, now + schedules.HORIZON) for s, spec in found}
    reached = {}
    for step in steps:
        step_teams = {t.pk for t in step.teams.all()}
        own = {s.pk for s in step.schedules.all()}
        step_schedules = [s for s, _ in found if s.pk in own or s.team_id in step_teams]
        ids = [u.pk for u in step.users.all()] + [on_call[s.pk] for s in step_schedules
                                                  if on_call[s.pk] is not None]
        reached[step.pk] = (list(dict.fromkeys(ids)), step_schedules)
    users = get_user_model().objects.in_bulk({i for ids, _ in reached.values() for i in ids})
    reachable = set(ContactMethod.objects.filter(user__in=users.keys(), enabled=True)
                    .values_list("user_id", flat=True))
    result = []
    for step in steps:
        ids, step_schedules = reached[step.pk]
        people = [users[i] for i in ids if i in users and users[i].is_active]
        result.append(StepOverview(
            step, people, [u for u in people if u.pk not in reachable],
            [(s, holes[s.pk]) for s in sorted(step_schedules, key=lambda s: s.name)
             if holes[s.pk]]))
    return result
