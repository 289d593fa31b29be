import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from incidents.paging.replies import ReplyError, handle_reply


class Command(BaseCommand):
    help = ('Act on a reply to a page email ("ack" or "resolve"): the raw RFC 822 message on '
            "standard input or in a file. For a mail system's pipe transport.")

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default="-", help="file with the message, or -")

    def handle(self, *args, path, **options):
        try:
            raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        try:
            result = handle_reply(raw)
        except ReplyError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(result.summary)
