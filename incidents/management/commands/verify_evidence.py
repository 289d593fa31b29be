import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from incidents import evidence, signing


class Command(BaseCommand):
    help = ("Check an evidence bundle (INC-<n>-evidence.json, from /incidents/<n>/evidence.json): "
            "its signature must hold under Relay's signing key (or a public key given with "
            "--public-key). Prints the bundle's SHA-256 and key id, as its printable page shows "
            "them. Exits non-zero when the file is not a bundle or its signature does not hold.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--public-key", action="append", default=[], metavar="BASE64",
                            help="Trust this Ed25519 public key (base64) instead of this "
                                 "installation's keys; may be given more than once.")

    def handle(self, *, file, public_key, **options):
        try:
            document = json.loads(file.read_bytes())
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror or error}") from None
        except ValueError:
            raise CommandError(f"{file} is not JSON.") from None
        try:
            keys = ([evidence.public_key(text) for text in public_key] if public_key
                    else signing.trusted_keys())
            digest, key_id = evidence.check(document, keys)
        except evidence.BadDocument as error:
            raise CommandError(f"{file}: {error}.") from None
        bundle = document["bundle"]
        incident = bundle.get("incident") or {}
        self.stdout.write(f"{file}: the signature holds (key {key_id}).")
        self.stdout.write(f"Bundle SHA-256 {digest}; {incident.get('reference', '?')}, "
                          f"generated {bundle.get('generated_at', '?')} "
                          f"by {bundle.get('generated_by', '?')}.")
