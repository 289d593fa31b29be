"""Demo data of this area, idempotent (seed_demo may run again on the same database)."""

from django.db.models import Exists, OuterRef

from comms.messages import services
from comms.models import CustomerContact, CustomerMessage
from incidents.models import Incident


def seed(users, teams, services_by_slug, tiers):
    """`users` by username (commander, responder, csm, auditor, admin), `teams` and `services` by
    slug, `tiers` by slug (enterprise, business, …). One published message and one draft on the
    first incident whose customers have contacts; nothing when there is none (the customers
    area's demo adds them)."""
    incident = _with_recipients().order_by("id").first()
    csm, responder, admin = users.get("csm"), users.get("responder"), users.get("admin")
    if incident is None or csm is None or CustomerMessage.objects.filter(
            incident=incident).exists():
        return
    phase = services.phase_of(incident)
    first = services.draft(
        incident, by=csm, phase=phase, subject=f"{phase.capitalize()}: service disruption",
        body="We are aware of an issue affecting some of our services and are working on it. "
             "We will send the next update within the hour.")
    if services.approval_tiers(incident) and admin is not None:
        services.submit(first, by=csm)
        services.approve(first, by=admin)
    else:
        services.publish(first, by=csm)
    services.draft(incident, by=responder or csm, phase=phase,
                   subject="Update: a fix is being rolled out",
                   body="Our engineers found the cause and are rolling out a fix.")


def _with_recipients():
    contacts = CustomerContact.objects.filter(customer__incidents=OuterRef("pk"),
                                              receives_updates=True)
    return Incident.objects.filter(Exists(contacts), restricted=False).exclude(
        status__in=["merged", "declined"])
