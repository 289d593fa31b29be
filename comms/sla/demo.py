"""Demo data of this area, idempotent (seed_demo may run again on the same database)."""

from datetime import date, time

from django.db import transaction
from django.db.models import Q

from comms.models import BusinessCalendar, Holiday, ResponseOn, SlaTarget, TierPolicy
from comms.sla import services
from incidents.models import Incident

# tier slug → severity → (response minutes, resolution minutes)
TARGETS = {
    "enterprise": {"P1": (15, 240), "P2": (30, 480), "P3": (120, 1440), "P4": (480, 4320)},
    "business": {"P1": (30, 480), "P2": (60, 960), "P3": (240, 2400), "P4": (960, 4800)},
    "free": {"P1": (120, 1440), "P2": (240, 2880), "P3": (1440, 7200)},
}
HOLIDAYS = [(date(2026, 12, 24), "Christmas Eve"), (date(2026, 12, 25), "Christmas Day"),
            (date(2026, 12, 26), "Boxing Day"), (date(2027, 1, 1), "New Year's Day")]


def seed(users, teams, services_by_slug, tiers):
    """`users` by username (commander, responder, csm, auditor, admin), `teams` and `services`
    by slug, `tiers` by slug (enterprise, business, …)."""
    berlin, _ = BusinessCalendar.objects.get_or_create(
        name="Business hours, Berlin", defaults={"time_zone": "Europe/Berlin",
                                                 "weekdays": [0, 1, 2, 3, 4],
                                                 "start": time(9), "end": time(17)})
    for day, name in HOLIDAYS:
        Holiday.objects.get_or_create(calendar=berlin, date=day, defaults={"name": name})
    policies = {"enterprise": (None, "P2", True), "business": (berlin, "P3", False),
                "free": (None, "P4", False)}
    for slug, (calendar, suggested, approval) in policies.items():
        if slug not in tiers:
            continue
        TierPolicy.objects.get_or_create(tier=tiers[slug], defaults={
            "calendar": calendar, "suggested_severity": suggested, "message_approval": approval})
        for severity, (response, resolution) in TARGETS[slug].items():
            SlaTarget.objects.get_or_create(tier=tiers[slug], severity=severity, defaults={
                "response_minutes": response, "resolution_minutes": resolution,
                "response_on": ResponseOn.ACKNOWLEDGED})
    _recompute_clocks()


def _recompute_clocks():
    """The demo incidents were declared before these policies existed: give them their clocks."""
    affected = Incident.objects.filter(Q(customer_tiers__isnull=False)
                                       | Q(customers__isnull=False)).distinct()
    for incident in affected.order_by("pk"):
        with transaction.atomic():
            locked = Incident.objects.select_for_update().get(pk=incident.pk)
            services.sync(locked, by=None)
