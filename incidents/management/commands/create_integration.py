from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from incidents import audit
from incidents.intake import services
from incidents.models import AuditSource, IntegrationFormat, Service

FORMATS = [f for f in IntegrationFormat.values if f != IntegrationFormat.HEARTBEAT]


class Command(BaseCommand):
    help = "Create an integration for a service and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("service", metavar="SERVICE", help="Service slug.")
        parser.add_argument("format", metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}.")
        parser.add_argument("--name", default="", help="Defaults to '<service> <format>'.")

    def handle(self, service, format, name, **options):
        if format not in FORMATS:
            raise CommandError(f"Unknown format {format!r}; use one of {', '.join(FORMATS)}.")
        try:
            target = Service.objects.get(slug=service)
        except Service.DoesNotExist:
            raise CommandError(f"There is no service with the slug {service!r}.") from None
        try:
            with audit.origin(AuditSource.COMMAND):
                integration, key = services.create_integration(by=None, service=target,
                                                               format=format, name=name)
        except ValidationError as error:
            raise CommandError(f"Cannot create the integration: {error.messages[0]}") from None
        self.stderr.write(f"Created “{integration.name}” for {target.name}. The key is shown "
                          "only now:")
        self.stdout.write(key)
