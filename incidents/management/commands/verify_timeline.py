from argparse import ArgumentTypeError
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError

from incidents import checkpoints
from incidents.models import Incident


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
    help = ("Verify the record: every incident timeline's hash chain and signatures, the incident "
            "rows against what their timelines say, and the audit log, each against the latest "
            "signed checkpoint (manage.py timeline_checkpoint). Names every chain whose history "
            "changed and what is not yet covered by a checkpoint. Exits non-zero on any problem.")

    def add_arguments(self, parser):
        parser.add_argument("--incident", type=incident_number, metavar="N",
                            help="Verify only this incident (42 or INC-42).")
        parser.add_argument("--batch-size", type=positive, default=500,
                            help="Incident ids read per query (default 500).")

    def handle(self, *, incident, batch_size, **options):
        if incident is not None and not Incident.objects.filter(pk=incident).exists():
            raise CommandError(f"There is no incident INC-{incident}.")
        try:
            known = checkpoints.coverage()
        except checkpoints.CheckpointError as error:
            raise CommandError(f"The checkpoints do not hold: {error}") from None
        ids = [incident] if incident is not None else _incident_ids(batch_size)
        checked = entries = uncovered = chains = 0
        broken: list[str] = []
        for incident_id in ids:
            verdict = checkpoints.verify_incident(
                Incident.objects.select_related("commander", "comms_lead").get(pk=incident_id),
                known)
            checked += 1
            entries += verdict.entries
            uncovered += _span(verdict.uncovered)
            broken.extend(self._report(verdict))
            chains += not verdict.intact
        if incident is None:
            for verdict in checkpoints.missing_incidents(known):
                broken.extend(self._report(verdict))
                chains += 1
        summary = f"Verified {_count(checked, 'incident')}, {_count(entries, 'entry', 'entries')}"
        self.stdout.write(f"{summary}: " + (f"{chains:,} broken." if chains
                                            else "all chains intact."))
        audit_uncovered = 0
        if incident is None:
            verdict = checkpoints.verify_audit(known)
            audit_uncovered = _span(verdict.uncovered)
            problems = self._report(verdict)
            broken.extend(problems)
            state = "intact" if not problems else f"{len(problems)} problem(s)"
            self.stdout.write(f"Audit log: {_count(verdict.entries, 'entry', 'entries')}, {state}.")
        self.stdout.write(_coverage_line(known, uncovered, audit_uncovered, incident is None))
        if broken:
            raise CommandError(f"{_count(len(broken), 'problem')} in the record; the first: "
                               f"{broken[0]}")

    def _report(self, verdict) -> list[str]:
        lines = [f"{verdict.name}: {problem}" for problem in verdict.problems]
        for line in lines:
            self.stdout.write(self.style.ERROR(line))
        return lines


def _span(uncovered) -> int:
    return uncovered[1] - uncovered[0] + 1 if uncovered else 0


def _coverage_line(known, timeline: int, audit: int, with_audit: bool) -> str:
    latest = (f"latest checkpoint {known.latest.number} of {known.latest.created_at[:19]}Z"
              if known.latest else "no checkpoint yet")
    parts = [_count(timeline, "timeline entry", "timeline entries")]
    if with_audit:
        parts.append(_count(audit, "audit entry", "audit entries"))
    if not timeline and not audit:
        return f"Checkpoints: {latest}; it covers everything."
    return (f"Checkpoints: {latest}; not yet covered: {' and '.join(parts)} "
            "(manage.py timeline_checkpoint covers them).")


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
