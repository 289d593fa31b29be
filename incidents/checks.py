"""System checks for what only a deployment can get wrong."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def signing_key_configured(app_configs, **kwargs):
    """The embedded default keeps its signing key next to the code: on several machines each
    would sign with its own key, and whoever can read the code directory could sign."""
    if settings.RELAY_SIGNING_KEY or settings.RELAY_SIGNING_KEY_FILE_CONFIGURED:
        return []
    return [Warning(
        "No signing key is configured: timeline entries and checkpoints are signed with a key "
        "created next to the code.",
        hint="Set RELAY_SIGNING_KEY (base64 of a 32-byte Ed25519 seed, the same on every "
             "machine) or RELAY_SIGNING_KEY_FILE, kept away from the database and its owner.",
        id="relay.W001")]
