import hashlib
import secrets

from django.conf import settings
from django.db import models

TOKEN_PREFIX = "relay_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """An API credential. Only the SHA-256 of the token is stored; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=14, editable=False, help_text="First characters, to recognise it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.BooleanField(default=False)

    class Meta:
        # The table predates this app (the model lived in oncall); keeping its name made the move
        # a state-only migration.
        db_table = "oncall_apitoken"
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user, name: str) -> tuple["ApiToken", str]:
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(raw), prefix=raw[:14])
        return token, raw

    def assign_new_key(self) -> str:
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.key_hash = hash_token(raw)
        self.prefix = raw[:14]
        return raw


class Profile(models.Model):
    """A person's own settings. time_zone is empty until chosen: the browser's zone is used."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="relay_profile")
    time_zone = models.CharField(
        max_length=64, blank=True,
        help_text="Times on every page are shown in this zone. Empty: your browser's zone.")
    # Who this person is at the single sign-on provider (its issuer and `sub` claim), set on
    # their first SSO sign-in; empty for local accounts. Never matched by email.
    sso_issuer = models.CharField(max_length=255, blank=True, editable=False)
    sso_subject = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        constraints = [
            # Also the index accounts.sso.OIDCBackend.find_user looks a sign-in up by.
            models.UniqueConstraint(fields=["sso_issuer", "sso_subject"],
                                    condition=~models.Q(sso_subject=""),
                                    name="accounts_profile_unique_sso_identity"),
        ]

    def __str__(self):
        return f"Settings of {self.user}"
