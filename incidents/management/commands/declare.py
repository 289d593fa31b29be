from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from incidents import permissions, services
from incidents.models import CustomerTier, Service

ACTOR_LABEL = "manage.py declare"


class Command(BaseCommand):
    help = "Declare an incident, as the web form and the API do (same checks, same timeline)."

    def add_arguments(self, parser):
        parser.add_argument("--title", required=True)
        parser.add_argument("--severity", required=True, help="P1 (critical) to P4 (low).")
        parser.add_argument("--description", default="")
        parser.add_argument("--service", dest="services", action="extend", nargs="+",
                            default=[], metavar="SLUG", help="Affected service (repeatable).")
        parser.add_argument("--tier", dest="tiers", action="extend", nargs="+", default=[],
                            metavar="SLUG", help="Affected customer tier (repeatable).")
        parser.add_argument("--restricted", action="store_true",
                            help="Visible only to people and teams granted access.")
        parser.add_argument("--user", metavar="USERNAME",
                            help="Declare as this user (default: the command itself).")

    def handle(self, **options):
        by = _find_user(options["user"]) if options["user"] else None
        try:
            incident = services.declare(
                title=options["title"], severity=options["severity"].strip().upper(),
                description=options["description"],
                services=_find_by_slug(Service, options["services"], "service"),
                customer_tiers=_find_by_slug(CustomerTier, options["tiers"], "customer tier"),
                restricted=options["restricted"], by=by, actor_label="" if by else ACTOR_LABEL,
            )
        except ValidationError as error:
            raise CommandError(f"Cannot declare the incident: {_sentences(error)}") from None
        self.stdout.write(f"Declared {incident.reference}: {incident.title} ({incident.severity})")


def _find_user(username: str):
    users = get_user_model()._default_manager
    try:
        user = users.get_by_natural_key(username)
    except users.model.DoesNotExist:
        raise CommandError(f"There is no user named {username!r}.") from None
    if not user.is_active:
        raise CommandError(f"The user {username!r} is inactive.")
    if not permissions.can_declare(user):
        raise CommandError(f"The user {username!r} may not declare incidents.")
    return user


def _find_by_slug(model, slugs: list[str], noun: str) -> list:
    wanted = list(dict.fromkeys(slugs))
    found = {obj.slug: obj for obj in model.objects.filter(slug__in=wanted)}
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        raise CommandError(f"Unknown {noun} slug: {', '.join(map(repr, missing))}.")
    return [found[slug] for slug in wanted]


def _sentences(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(f"{field}: {' '.join(messages)}"
                        for field, messages in error.message_dict.items())
    return " ".join(error.messages)
