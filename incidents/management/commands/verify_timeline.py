from argparse import ArgumentTypeError
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError

from incidents.models import Incident
from incidents.timeline import ChainReport, verify_chain


def incident_number(value: str) -> int:
    """Accept 42 or INC-42, as people copy either from the portal."""
    digits = value.strip().upper().removeprefix("INC-")
    if not digits.isdigit():
        raise ArgumentTypeError(f"{value!r} is not an incident number (give 42 or INC-42).")
    return int(digits)


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ArgumentTypeError(f"{value!r} is not a positive whole number.")
    return int(value)


class Command(BaseCommand):
    help = ("Verify the hash chains of incident timelines and name the first broken entry of "
            "each broken chain. Exits non-zero when any chain is broken.")

    def add_arguments(self, parser):
        parser.add_argument("--incident", type=incident_number, metavar="N",
                            help="Verify only this incident (42 or INC-42).")
        parser.add_argument("--batch-size", type=positive, default=500,
                            help="Incident ids read per query (default 500).")

    def handle(self, *, incident, batch_size, **options):
        if incident is not None and not Incident.objects.filter(pk=incident).exists():
            raise CommandError(f"There is no incident INC-{incident}.")
        ids = [incident] if incident is not None else _incident_ids(batch_size)
        checked = entries = 0
        broken: list[ChainReport] = []
        for incident_id in ids:
            report = verify_chain(incident_id)
            checked += 1
            entries += report.entries
            if not report.intact:
                broken.append(report)
                self.stdout.write(self.style.ERROR(_describe(report)))
        summary = f"Verified {_count(checked, 'incident')}, {_count(entries, 'entry', 'entries')}"
        if not broken:
            self.stdout.write(self.style.SUCCESS(f"{summary}: all chains intact."))
            return
        self.stdout.write(f"{summary}: {len(broken):,} broken.")
        raise CommandError(f"{_count(len(broken), 'timeline chain')} broken; the first: "
                           f"{_describe(broken[0])}")


def _incident_ids(batch_size: int) -> Iterator[int]:
    """Every incident id in order, one small query per batch (keyset, never all rows at once)."""
    last = 0
    while True:
        batch = list(Incident.objects.filter(pk__gt=last).order_by("pk")
                     .values_list("pk", flat=True)[:batch_size])
        yield from batch
        if len(batch) < batch_size:
            return
        last = batch[-1]


def _count(n: int, singular: str, plural: str = "") -> str:
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"


def _describe(report: ChainReport) -> str:
    return f"INC-{report.incident_id}: entry #{report.first_bad_seq}: {report.reason}"
