"""Start-up checks of the single sign-on mapping: a role named in OIDC_GROUP_ROLES that Relay
does not have would silently grant nothing."""

from django.conf import settings
from django.core.checks import Error, register

from accounts.roles import ROLES


@register()
def check_sso_roles(app_configs, **kwargs):
    unknown = sorted({role for _, role in settings.OIDC_GROUP_ROLES} - set(ROLES))
    return [Error(f"OIDC_GROUP_ROLES names {role!r}, which is not a Relay role.",
                  hint=f"Roles: {', '.join(ROLES)}.", id="accounts.E001") for role in unknown]
