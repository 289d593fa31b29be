"""Every write of this area: a customer with its contacts and contract targets, an incident's
affected customers, a customer issue reported by Communications. The portal, the API, the admin
and the CSV import all call these."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.guards import has_role_perm
from comms.models import ContractTarget, Customer, CustomerContact, TierPolicy
from config.errors import Conflict, NotAllowed
from incidents import audit
from incidents import permissions as incident_permissions
from incidents import services as incident_services
from incidents.models import EntryKind, Incident, Severity
from incidents.timeline import record

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
CUSTOMER_FIELDS = ("name", "external_id", "tier", "csm", "notes")
CONTACT_FIELDS = ("name", "email", "role", "receives_updates")
TARGET_FIELDS = ("severity", "response_minutes", "resolution_minutes")


def _require(by, perm: str, doing: str) -> None:
    # by=None is the system itself (the import command run by an operator, demo data).
    if by is not None and not has_role_perm(by, perm):
        raise NotAllowed(f"Your role cannot {doing}.")


def _values(customer: Customer) -> tuple:
    return tuple(getattr(customer, f + "_id" if f in ("tier", "csm") else f)
                 for f in CUSTOMER_FIELDS)


def _rows(rows, fields) -> list[tuple]:
    return sorted(tuple((r[f] if isinstance(r, dict) else getattr(r, f)) for f in fields)
                  for r in rows)


def _audited(customer: Customer) -> dict:
    """The customer as the audit log keeps it: its fields, contacts and contract targets."""
    state = audit.snapshot(customer, CUSTOMER_FIELDS)
    state["contacts"] = [dict(zip(CONTACT_FIELDS, row, strict=True))
                         for row in _rows(customer.contacts.all(), CONTACT_FIELDS)]
    state["contract_targets"] = [dict(zip(TARGET_FIELDS, row, strict=True))
                                 for row in _rows(customer.contract_targets.all(), TARGET_FIELDS)]
    return state


def save_customer(*, by, customer: Customer | None = None, contacts=None, targets=None,
                  **fields) -> tuple[Customer, str]:
    """Create (customer=None) or change a customer. `fields` are model fields (name,
    external_id, tier, csm, notes); `contacts` and `targets`, when given, replace the
    customer's rows: lists of dicts with CONTACT_FIELDS / TARGET_FIELDS keys. All or nothing;
    returns the customer and whether it was created, updated or left unchanged."""
    _require(by, "comms.change_customer" if customer else "comms.add_customer",
             "change customers" if customer else "add customers")
    unknown = set(fields) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ValidationError({f: "Not a customer field." for f in unknown})
    with transaction.atomic():
        if customer is not None:
            customer = Customer.objects.select_for_update().get(pk=customer.pk)
        customer = customer or Customer()
        audited = _audited(customer) if customer.pk else None
        before = (_values(customer), _rows(customer.contacts.all(), CONTACT_FIELDS),
                  _rows(customer.contract_targets.all(), TARGET_FIELDS)) if customer.pk else ()
        for name, value in fields.items():
            setattr(customer, name, value.strip() if isinstance(value, str) else value)
        customer.external_id = (customer.external_id or "").strip() or None
        customer.full_clean(exclude=["incidents"])
        contact_rows = _contacts(contacts) if contacts is not None else None
        target_rows = _targets(targets) if targets is not None else None
        if before and before == (
                _values(customer),
                before[1] if contact_rows is None else _rows(contact_rows, CONTACT_FIELDS),
                before[2] if target_rows is None else _rows(target_rows, TARGET_FIELDS)):
            return customer, UNCHANGED
        created = customer.pk is None
        customer.save()
        if contact_rows is not None:
            customer.contacts.all().delete()
            CustomerContact.objects.bulk_create(
                [CustomerContact(customer=customer, **row) for row in contact_rows])
        if target_rows is not None:
            customer.contract_targets.all().delete()
            ContractTarget.objects.bulk_create(
                [ContractTarget(customer=customer, **row) for row in target_rows])
        audit.log("customer.create" if created else "customer.update", customer, actor=by,
                  before=audited, after=_audited(customer))
    return customer, CREATED if created else UPDATED


def _contacts(rows) -> list[dict]:
    cleaned, seen = [], set()
    for number, row in enumerate(rows, 1):
        row = {"role": "", "receives_updates": True, **row}
        contact = CustomerContact(**{f: row.get(f) for f in CONTACT_FIELDS})
        contact.email = (contact.email or "").strip().lower()
        contact.name, contact.role = (contact.name or "").strip(), (contact.role or "").strip()
        try:
            contact.full_clean(exclude=["customer"], validate_constraints=False)
        except ValidationError as error:
            messages = [f"Contact {number}: {field}: {' '.join(m)}"
                        for field, m in error.message_dict.items()]
            raise ValidationError({"contacts": messages}) from None
        for field in ("name", "role"):
            # Both travel in email headers (To: "Name" <address>), which are one line.
            if any(not ch.isprintable() for ch in getattr(contact, field)):
                raise ValidationError({"contacts": f"Contact {number}: {field}: one line of "
                                                   f"text, without control characters."})
        if contact.email in seen:
            raise ValidationError({"contacts": f"Contact {number}: {contact.email} is listed "
                                               f"twice."})
        seen.add(contact.email)
        cleaned.append({f: getattr(contact, f) for f in CONTACT_FIELDS})
    return cleaned


def _targets(rows) -> list[dict]:
    cleaned, seen = [], set()
    for row in rows:
        target = ContractTarget(**{f: row.get(f) for f in TARGET_FIELDS})
        try:
            target.full_clean(exclude=["customer"], validate_constraints=False)
        except ValidationError as error:
            raise ValidationError({"contract_targets": [
                f"{row.get('severity')}: {field}: {' '.join(m)}"
                for field, m in error.message_dict.items()]}) from None
        if target.severity in seen:
            raise ValidationError({"contract_targets": f"{target.severity} is listed twice."})
        seen.add(target.severity)
        if target.response_minutes is None and target.resolution_minutes is None:
            continue  # a blank target leaves the tier's in force: no row
        cleaned.append({f: getattr(target, f) for f in TARGET_FIELDS})
    return cleaned


def delete_customer(customer: Customer, *, by) -> None:
    """Only a customer no incident names: deleting one that is would silently take it out of
    those incidents' records (the affected customers are history, changed only on the
    timeline)."""
    _require(by, "comms.delete_customer", "delete customers")
    with transaction.atomic():
        named = list(customer.incidents.order_by("pk").values_list("pk", flat=True)[:5])
        if named:
            refs = ", ".join(f"INC-{pk}" for pk in named)
            raise Conflict(f"{customer.name} is named on incidents ({refs}); it stays as part "
                           f"of their record.")
        before = _audited(customer)
        Customer.objects.filter(pk=customer.pk).delete()
        audit.log("customer.delete", customer, actor=by, before=before)


# --- an incident's affected customers ----------------------------------------------------------

def can_set_customers(user, incident: Incident) -> bool:
    """Whoever may edit the incident, and Communications (who own the customer relationship)."""
    return (incident_permissions.can_edit(user, incident)
            or has_role_perm(user, "comms.change_customer"))


def set_customers(incident: Incident, customers, *, by) -> bool:
    """Make `customers` the incident's affected customers; their tiers join the incident's
    customer tiers (removing a customer keeps every tier: someone may have named it directly).
    Returns whether anything changed."""
    if by is not None and not can_set_customers(by, incident):
        raise NotAllowed("Your role cannot change this incident's customers.")
    return _set_customers(incident, customers, by=by)


def _set_customers(incident: Incident, customers, *, by) -> bool:
    customers = sorted(set(customers), key=lambda c: (c.name, c.pk))
    with transaction.atomic():
        Incident.objects.select_for_update().get(pk=incident.pk)
        old = list(incident.customers.order_by("name", "id"))
        if {c.pk for c in old} == {c.pk for c in customers}:
            return False
        incident.customers.set(customers)
        record(incident, EntryKind.CUSTOMERS, by,
               old=", ".join(c.name for c in old), new=", ".join(c.name for c in customers),
               data={"old": [c.pk for c in old], "new": [c.pk for c in customers],
                     "added": sorted({c.pk for c in customers} - {c.pk for c in old}),
                     "removed": sorted({c.pk for c in old} - {c.pk for c in customers})})
        tiers = set(incident.customer_tiers.all())
        gained = {c.tier for c in customers} - tiers
        if gained:
            incident_services.update_details(incident, by=by, customer_tiers=tiers | gained)
    return True


# --- reporting a customer issue ---------------------------------------------------------------

def suggest_severity(customers) -> tuple[str, str]:
    """The most severe TierPolicy.suggested_severity among the customers' tiers (P3 when none
    suggests one), and why, in a sentence."""
    customers = list(customers)
    policies = {p.tier_id: p for p in TierPolicy.objects.filter(
        tier__in={c.tier_id for c in customers})}
    suggested = [(policies[c.tier_id].suggested_severity, c) for c in customers
                 if c.tier_id in policies]
    if not suggested:
        return Severity.P3, ("suggested P3: no affected customer's tier suggests a severity"
                             if customers else "suggested P3: no customer chosen yet")
    severity, customer = min(suggested, key=lambda pair: (pair[0], pair[1].name))
    return severity, f"suggested {severity}: {customer.name} is {customer.tier.name}"


def report_issue(*, by, title: str, service, customers, what_customer_sees: str,
                 severity: str = "") -> Incident:
    """A CSM opens an incident for a customer's issue. A blank severity takes the suggestion."""
    _require(by, "comms.report_issue", "report customer issues")
    customers = list(customers)
    if not customers:
        raise ValidationError({"customers": "Name at least one affected customer."})
    severity = severity or suggest_severity(customers)[0]
    with transaction.atomic():
        incident = incident_services.declare(
            title=title, severity=severity, by=by, description=what_customer_sees,
            services=[service] if service else [],
            customer_tiers=sorted({c.tier for c in customers}, key=lambda t: t.pk))
        # Reporting is the permission here: a CSM's report names its customers.
        _set_customers(incident, customers, by=by)
    return incident
