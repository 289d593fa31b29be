from django.core.management.base import BaseCommand, CommandError

from incidents import checkpoints


class Command(BaseCommand):
    help = ("Write a signed checkpoint of every incident timeline's head changed since the last "
            "one, and of the audit log's, to RELAY_CHECKPOINT_DIR (and the witness, if set). "
            "Each chain is verified from its last checkpoint first; a chain that does not verify "
            "keeps its old head and is named, and the command exits non-zero.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--adopt-unsigned", action="store_true",
            help="Vouch for entries written before signing began (once, right after upgrading).")

    def handle(self, *, adopt_unsigned, **options):
        try:
            written = checkpoints.write(adopt_unsigned=adopt_unsigned)
        except checkpoints.CheckpointError as error:
            raise CommandError(f"The existing checkpoints do not hold: {error}") from None
        except OSError as error:
            raise CommandError(f"Cannot write to {checkpoints.directory()}: {error}") from None
        point = written.checkpoint
        if point is None:
            self.stdout.write("Nothing changed since the last checkpoint; none written.")
        else:
            kind = "full" if point.full else "incremental"
            self.stdout.write(
                f"Wrote {kind} checkpoint {point.number} ({point.path}): "
                f"{len(point.timelines):,} timeline head(s), audit log at #{point.audit[0]}, "
                f"signed by key {point.key_id}.")
        if written.witness_error:
            self.stderr.write(f"The witness did not take it: {written.witness_error}")
        for problem in written.refused:
            self.stdout.write(self.style.ERROR(problem))
        if written.refused:
            raise CommandError(f"{len(written.refused)} chain(s) did not verify and were left at "
                               f"their last checkpoint; the first: {written.refused[0]}")
