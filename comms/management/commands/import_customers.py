"""Import customers from a CRM's CSV export (see `help` below for the shape)."""

import csv
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction
from django.db.models import Q

from comms.customers import services
from comms.models import Customer
from incidents import audit
from incidents.models import AuditSource, CustomerTier, Severity

User = get_user_model()
REQUIRED = ("external_id", "name", "tier")
CONTACT_COLUMNS = ("contact_name", "contact_email", "contact_role")
TARGET_COLUMNS = {f"{sev.lower()}_{kind}_minutes": (sev, f"{kind}_minutes")
                  for sev in Severity.values for kind in ("response", "resolution")}
# What Salesforce and HubSpot call the same columns in their default exports.
ALIASES = {"account_id": "external_id", "record_id": "external_id", "company_id": "external_id",
           "account_name": "name", "company_name": "name", "customer_tier": "tier",
           "csm_email": "csm", "account_owner_email": "csm", "contact_full_name": "contact_name",
           "contact_title": "contact_role"}
MAX_MINUTES = 10**6

HELP = """Import customers from a CRM's CSV export: idempotent by external id, each customer
imported whole or not at all, with a report of what was created, updated, left unchanged and
refused (row number and reason).

The file is UTF-8 (a byte-order mark is fine), comma-separated, with a header row. One row per
contact; rows sharing an external_id are one customer. Columns (case and spaces in the header do
not matter; Salesforce/HubSpot names such as "Account ID" and "Account Name" are understood):

  external_id   required, the CRM's id of the customer
  name          required, the same on every row of a customer
  tier          required, a customer tier's slug or name (enterprise, "Business")
  csm           optional, the owning CSM's username or email
  contact_name, contact_email, contact_role
                optional, one contact per row; a row without them adds no contact
  p1_response_minutes, p1_resolution_minutes … p4_response_minutes, p4_resolution_minutes
                optional contract targets; blank keeps the tier's target

The file's contacts (and, when it has contract columns, its targets) replace the customer's.
Row numbers are a spreadsheet's: the header is row 1."""


@dataclass
class Group:
    external_id: str
    rows: list = field(default_factory=list)  # (row number, dict)


class Refused(Exception):
    pass


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV export to import.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check and report, change nothing.")

    def handle(self, *args, file, dry_run=False, **options):
        header, rows = _read(file)
        counts = {services.CREATED: 0, services.UPDATED: 0, services.UNCHANGED: 0}
        refusals: list[tuple[int, str, str]] = []
        groups: dict[str, Group] = {}
        for number, row in rows:
            key = row.get("external_id", "")
            if not key:
                refusals.append((number, "", "missing external_id"))
                continue
            groups.setdefault(key, Group(key)).rows.append((number, row))
        with transaction.atomic(), audit.origin(AuditSource.COMMAND):
            for group in groups.values():
                try:
                    with transaction.atomic():
                        _, outcome = services.save_customer(
                            by=None, customer=_existing(group.external_id),
                            **_customer_fields(group, header))
                except (Refused, ValidationError, IntegrityError) as error:
                    refusals.extend((n, group.external_id, _reason(error))
                                    for n, _ in group.rows)
                else:
                    counts[outcome] += 1
            if dry_run:
                transaction.set_rollback(True)
        self._report(counts, refusals, dry_run)

    def _report(self, counts, refusals, dry_run):
        prefix = "Dry run, nothing saved: would have " if dry_run else ""
        self.stdout.write(
            f"{prefix}{counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged, {len(refusals)} rows refused.")
        for number, external_id, reason in sorted(refusals):
            who = f" ({external_id})" if external_id else ""
            self.stdout.write(f"  row {number}{who}: {reason}")


def _read(path: str) -> tuple[set, list]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text; export the CSV as UTF-8.") from None
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        raw_header = next(reader)
    except StopIteration:
        raise CommandError(f"{path} is empty; expected a header row.") from None
    except csv.Error as error:
        raise CommandError(f"{path} is not a readable CSV file: {error}.") from None
    header = [_column(h) for h in raw_header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CommandError(f"{path} lacks the required column(s) {', '.join(missing)}; its "
                           f"header is: {', '.join(raw_header) or '(empty)'}.")
    rows = []
    try:
        for number, values in enumerate(reader, 2):
            if not any(v.strip() for v in values):
                continue  # a blank line, as spreadsheets leave at the end
            cells = zip(header, values, strict=False)  # a trailing extra cell is ignored
            rows.append((number, {h: (v or "").strip() for h, v in cells}))
    except csv.Error as error:
        raise CommandError(f"{path} is not a readable CSV file: {error}.") from None
    return set(header), rows


def _column(name: str) -> str:
    key = "_".join("".join(c if c.isalnum() else " " for c in name.strip().lower()).split())
    return ALIASES.get(key, key)


def _existing(external_id: str):
    return Customer.objects.filter(external_id=external_id).first()


def _customer_fields(group: Group, header: set) -> dict:
    first = group.rows[0][1]
    names = {r["name"] for _, r in group.rows}
    if len(names) > 1:
        raise Refused(f"conflicting names for one external id: {', '.join(sorted(names))}")
    if not first["name"]:
        raise Refused("missing name")
    fields = {"external_id": group.external_id, "name": first["name"],
              "tier": _tier(_same(group, "tier")),
              "contacts": _contacts(group)}
    if "csm" in header:
        fields["csm"] = _csm(_same(group, "csm"))
    if header & set(TARGET_COLUMNS):
        fields["targets"] = _targets(group, header)
    return fields


def _same(group: Group, column: str) -> str:
    values = {r.get(column, "") for _, r in group.rows} - {""}
    if len(values) > 1:
        raise Refused(f"conflicting {column} values for one external id: "
                      f"{', '.join(sorted(values))}")
    return values.pop() if values else ""


def _tier(value: str) -> CustomerTier:
    if not value:
        raise Refused("missing tier")
    tier = CustomerTier.objects.filter(Q(slug__iexact=value) | Q(name__iexact=value)).first()
    if tier is None:
        raise Refused(f"unknown tier {value!r}")
    return tier


def _csm(value: str):
    if not value:
        return None
    users = list(User.objects.filter(Q(username=value) | Q(email__iexact=value),
                                     is_active=True)[:2])
    if len(users) != 1:
        raise Refused(f"unknown CSM {value!r}" if not users else f"several users match {value!r}")
    return users[0]


def _contacts(group: Group) -> list[dict]:
    contacts = []
    for number, row in group.rows:
        name, email = row.get("contact_name", ""), row.get("contact_email", "")
        if not (name or email):
            continue
        if not email:
            raise Refused(f"row {number}: contact {name!r} has no email")
        contacts.append({"name": name or email, "email": email,
                         "role": row.get("contact_role", "")})
    return contacts


def _targets(group: Group, header: set) -> list[dict]:
    targets = {}
    for column in sorted(header & set(TARGET_COLUMNS)):
        severity, kind = TARGET_COLUMNS[column]
        value = _same(group, column)
        if value and not (value.isdigit() and int(value) <= MAX_MINUTES):
            raise Refused(f"{column} must be a whole number of minutes, not {value!r}")
        targets.setdefault(severity, {"severity": severity, "response_minutes": None,
                                      "resolution_minutes": None})
        targets[severity][kind] = int(value) if value else None
    return list(targets.values())


def _reason(error) -> str:
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return "; ".join(f"{f}: {' '.join(m)}" if f != "__all__" else " ".join(m)
                             for f, m in error.message_dict.items())
        return " ".join(error.messages)
    if isinstance(error, IntegrityError):
        return "the database refused it (a concurrent change?)"
    return str(error)
