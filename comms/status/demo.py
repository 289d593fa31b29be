"""Demo data of the status page, idempotent (seed_demo may run again on the same database):
branding, two groups of components linked to the demo services, one internal component, and a
maintenance next week with alert-intake windows, written through comms.status.services as
staff would; past outages for the uptime bars, and an update on the page for the worst open
incident on a public component."""

from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from comms.messages import services as messages
from comms.models import (
    Component,
    ComponentChange,
    ComponentGroup,
    ComponentStatus,
    CustomerMessage,
    Maintenance,
    MessageState,
    PublicIncident,
)
from comms.status import services
from config.errors import DomainError
from incidents.models import Incident

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
    _history(made)
    _publish_on_the_page(csm, [made["Checkout"], made["Search"], made["Login"]])


# name → (days ago, hours it lasted, status): past trouble, so the uptime bars have a story.
PAST = {"Checkout": (23, 2, ComponentStatus.PARTIAL), "Login": (41, 0.75, ComponentStatus.MAJOR),
        "Search": (9, 3, ComponentStatus.DEGRADED)}


def _history(made: dict) -> None:
    """The components existed long before the demo was seeded, with some past outages."""
    now = timezone.now()
    for name, component in made.items():
        if component.created_at < now - timedelta(days=100):
            continue  # seeded before
        Component.objects.filter(pk=component.pk).update(created_at=now - timedelta(days=120))
        if name in PAST:
            days, hours, status = PAST[name]
            began = now - timedelta(days=days)
            ComponentChange.objects.bulk_create([
                ComponentChange(component=component, at=began, new_status=status,
                                old_status=ComponentStatus.OPERATIONAL, note="Demo history."),
                ComponentChange(component=component, at=began + timedelta(hours=hours),
                                old_status=status, new_status=ComponentStatus.OPERATIONAL,
                                note="Demo history."),
            ])


def _publish_on_the_page(csm, shown: list) -> None:
    """An update on the page for the worst open incident on a public component's services (one
    with no open draft, so publishing is not refused)."""
    if csm is None or PublicIncident.objects.exists():
        return
    open_drafts = CustomerMessage.objects.filter(incident=OuterRef("pk"),
                                                 state__in=[MessageState.DRAFT,
                                                            MessageState.PENDING])
    incident = (Incident.objects.open().filter(restricted=False,
                                               services__status_components__in=shown)
                .exclude(Exists(open_drafts)).order_by("severity", "id").first())
    if incident is None:
        return
    phase = messages.phase_of(incident)
    message = messages.draft(
        incident, by=csm, phase=phase, to_customers=False, to_status_page=True,
        subject="Some card payments are failing",
        body="Some customers cannot complete card payments at checkout. We are investigating "
             "and will update this page within 30 minutes.")
    try:
        messages.publish(message, by=csm)
    except DomainError:
        messages.discard(message, by=csm)
