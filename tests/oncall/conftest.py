"""On-call factories: schedules with layers, escalation policies, contact methods."""

from datetime import date, time

from oncall.models import (
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Layer,
    LayerMember,
    Schedule,
)


def make_schedule(name="Checkout primary", tz="Europe/Berlin", team=None) -> Schedule:
    return Schedule.objects.create(name=name, time_zone=tz, team=team)


def add_layer(schedule, *people, name="Primary", rank=0, start=date(2026, 1, 5),
              handoff=time(9), unit="weeks", length=1, **restriction) -> Layer:
    layer = Layer.objects.create(schedule=schedule, name=name, rank=rank, start_date=start,
                                 handoff_time=handoff, turn_unit=unit, turn_length=length,
                                 **restriction)
    for position, user in enumerate(people):
        LayerMember.objects.create(layer=layer, user=user, position=position)
    return layer


def make_policy(*steps, name="Checkout", repeat=0, ack_timeout=None):
    """Each step: a dict with users / schedules / teams lists and delay (minutes)."""
    policy = EscalationPolicy.objects.create(name=name, repeat=repeat,
                                             ack_timeout_minutes=ack_timeout)
    for position, spec in enumerate(steps):
        step = EscalationStep.objects.create(policy=policy, position=position,
                                             delay_minutes=spec.get("delay", 5))
        step.users.set(spec.get("users", []))
        step.schedules.set(spec.get("schedules", []))
        step.teams.set(spec.get("teams", []))
    return policy


def add_contact(user, kind="email", address=None) -> ContactMethod:
    address = address or (user.email if kind == "email" else "")
    return ContactMethod.objects.create(user=user, kind=kind, address=address)
