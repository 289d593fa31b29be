"""Demo data of this area, idempotent (seed_demo may run again on the same database)."""

from comms.customers import services
from comms.models import Customer
from incidents.models import Incident

CUSTOMERS = [
    # external id, name, tier slug, contacts (name, email, role)
    ("crm-0001", "Acme Corp", "enterprise", [("Dana Reyes", "dana.reyes@acme.example.com", "CTO"),
                                            ("Ops desk", "ops@acme.example.com", "IT operations")]),
    ("crm-0002", "Globex", "enterprise", [("Hank Scorpio", "hank@globex.example.com", "CEO")]),
    ("crm-0003", "Initech", "business", [("Bill Lumbergh", "bill@initech.example.com",
                                          "VP Operations")]),
    ("crm-0004", "Umbrella Retail", "business", [("Alice Abernathy", "alice@umbrella.example.com",
                                                  "Head of e-commerce")]),
    ("crm-0005", "Hooli Labs", "free", [("Gavin B.", "gavin@hooli.example.com", "Founder")]),
    ("crm-0006", "Soylent Foods", "free", []),
]
# Acme's contract beats the Enterprise tier's targets for P1 and P2.
ACME_TARGETS = [{"severity": "P1", "response_minutes": 10, "resolution_minutes": 120},
                {"severity": "P2", "response_minutes": 30, "resolution_minutes": None}]


def seed(users, teams, services_by_slug, tiers):
    """`users` by username (commander, responder, csm, auditor, admin), `teams` and `services` by
    slug, `tiers` by slug (enterprise, business, …)."""
    for external_id, name, tier, contacts in CUSTOMERS:
        if tier not in tiers or Customer.objects.filter(external_id=external_id).exists():
            continue
        services.save_customer(
            by=None, external_id=external_id, name=name, tier=tiers[tier], csm=users["csm"],
            contacts=[{"name": n, "email": e, "role": r} for n, e, r in contacts],
            targets=ACME_TARGETS if external_id == "crm-0001" else [])
    incident = Incident.objects.filter(title__startswith="Primary database CPU").first()
    if incident is not None and not incident.customers.exists():
        services.set_customers(incident, Customer.objects.filter(
            external_id__in=["crm-0001", "crm-0003"]), by=users["csm"])
