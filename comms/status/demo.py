"""Demo data of the status page, idempotent (seed_demo may run again on the same database):
branding, two groups of components linked to the demo services, one internal component, and a
maintenance next week with alert-intake windows. Written through comms.status.services, as
staff would."""

from datetime import timedelta

from django.utils import timezone

from comms.models import Component, ComponentGroup, Maintenance
from comms.status import services

GROUPS = [("Shop", "Browsing and buying", 1), ("Platform", "What the shop runs on", 2)]
# name, group, position, service slugs, internal
COMPONENTS = [
    ("Checkout", "Shop", 1, ["checkout-api", "payment-gateway"], False),
    ("Search", "Shop", 2, ["search"], False),
    ("Login", "Platform", 1, ["auth"], False),
    ("Primary database", "Platform", 2, ["postgres-primary"], True),
]


def seed(users, teams, services_by_slug, tiers):
    csm = users.get("csm")
    services.save_branding(by=None, name="Relay Demo status",
                           about="Live status of the Relay demo shop.")
    groups = {}
    for name, description, position in GROUPS:
        groups[name] = (ComponentGroup.objects.filter(name=name).first()
                        or services.save_group(by=None, name=name, description=description,
                                               position=position))
    made = {}
    for name, group, position, slugs, internal in COMPONENTS:
        made[name] = Component.objects.filter(name=name).first() or services.save_component(
            by=None, name=name, group=groups[group], position=position, internal=internal,
            services=[services_by_slug[s] for s in slugs if s in services_by_slug])
    if not Maintenance.objects.exists():
        start = (timezone.now() + timedelta(days=7)).replace(hour=2, minute=0, second=0,
                                                             microsecond=0)
        services.schedule(by=csm, name="Database upgrade",
                          body="We are upgrading the primary database. Checkout and login may "
                               "be slow for a few minutes.",
                          components=[made["Checkout"], made["Login"],
                                      made["Primary database"]],
                          starts_at=start, ends_at=start + timedelta(hours=2), windows=True)
