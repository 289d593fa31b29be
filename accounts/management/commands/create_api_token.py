from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken
from config import auditing


class Command(BaseCommand):
    help = "Issue an API token for a user and print it. Only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="What the token is for (default: cli).")

    def handle(self, **options):
        user = _find_user(options["username"])
        name = options["name"].strip()
        limit = ApiToken._meta.get_field("name").max_length
        if not name or len(name) > limit:
            raise CommandError(f"The token name must be 1 to {limit} characters.")
        with auditing.command_origin():
            token, raw = ApiToken.issue(user, name)
        # The token alone on stdout so scripts can capture it; the advice goes to stderr.
        self.stdout.write(raw)
        self.stderr.write(
            f"Token {token.name!r} for {user.get_username()} ({token.prefix}…). It is shown "
            "only this once: store it now.", style_func=self.style.WARNING)


def _find_user(username: str):
    users = get_user_model()._default_manager
    try:
        user = users.get_by_natural_key(username)
    except users.model.DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None
    if not user.is_active:
        raise CommandError(f"The user {username!r} is inactive; its token would be refused.")
    return user
