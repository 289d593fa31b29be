import sys

from django.core.management.base import BaseCommand, CommandError

from incidents.intake import keys, pipeline
from incidents.intake.endpoints import MAX_BODY
from incidents.intake.formats import email
from incidents.intake.formats.events import PayloadError
from incidents.models import IntegrationFormat


class Command(BaseCommand):
    help = ("Read one raw RFC 822 message on standard input and ingest it as an alert, for MTA "
            "pipes: `manage.py ingest_email KEY < message.eml`.")

    def add_arguments(self, parser):
        parser.add_argument("key", metavar="KEY", help="The email integration's key.")

    def handle(self, key, **options):
        ref = keys.find_integration(key, IntegrationFormat.EMAIL)
        if ref is None:
            raise CommandError("No enabled email integration has this key.")
        message = sys.stdin.buffer.read(MAX_BODY + 1)
        if len(message) > MAX_BODY:
            raise CommandError("The message is larger than 512 KB; it was not ingested.")
        try:
            outcomes = pipeline.ingest(ref, email.parse(message, dedup_by=ref.email_dedup))
        except PayloadError as error:
            raise CommandError(f"The message was not ingested: {error}.") from None
        for outcome in outcomes:
            verb = "new alert" if outcome.new else "repeat of an open alert"
            self.stdout.write(f"Ingested ({verb}): {outcome.dedup_key}")
