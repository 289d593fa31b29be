"""The page a locked-out sign-in gets: the login form it came from, saying why and for how long.

django-axes calls `lockout_response` (AXES_LOCKOUT_CALLABLE) instead of its bare text reply. The
portal and admin logins are both Django LoginViews, so the response being replaced is a
TemplateResponse whose template and form we can render again with the lockout as the form's error.
"""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.forms.forms import NON_FIELD_ERRORS
from django.shortcuts import render
from django.template.response import TemplateResponse

LOCKED_STATUS = 429
SSO_CALLBACK = "/oidc/callback/"  # config/urls.py


def lockout_message() -> str:
    minutes = settings.RELAY_LOGIN_COOLOFF_MINUTES
    unit = "minute" if minutes == 1 else "minutes"
    return (f"Too many failed sign-ins for this account or address; try again in {minutes} "
            f"{unit} or ask an administrator to unlock it.")


def client_address(request) -> str:
    """The address a sign-in counts against (see RELAY_TRUSTED_PROXIES in settings)."""
    proxies = settings.RELAY_TRUSTED_PROXIES
    remote = request.META.get("REMOTE_ADDR", "")
    if not proxies:
        return remote
    chain = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
             if a.strip()]
    return chain[-proxies] if len(chain) >= proxies else remote


def not_a_password_guess(request, credentials=None) -> bool:
    """AXES_WHITELIST_CALLABLE: a single sign-on callback is not counted. The provider has
    checked the person's password already; a refusal there (no role in Relay, deactivated) would
    otherwise lock every password sign-in from the same office address. Forged or replayed
    callbacks never reach authentication (they are refused before, with a 400)."""
    return request is not None and request.path_info == SSO_CALLBACK


def lockout_response(request, original_response=None, credentials=None):
    message = lockout_message()
    if isinstance(original_response, TemplateResponse) and _form_of(original_response):
        return _rerender(request, original_response, message)
    # Not from a login form (e.g. a custom authenticate call): our login page, empty.
    form = AuthenticationForm(request, initial={"username": _username(credentials)})
    return render(request, "registration/login.html",
                  {"form": form, "lockout_message": message}, status=LOCKED_STATUS)


def _form_of(response: TemplateResponse):
    return (response.context_data or {}).get("form")


def _rerender(request, original: TemplateResponse, message: str) -> TemplateResponse:
    form = _form_of(original)
    # The form already failed with "enter a correct username and password"; that is not why.
    form.errors[NON_FIELD_ERRORS] = form.error_class([message], error_class="nonfield")
    context = {**original.context_data, "lockout_message": message}
    response = TemplateResponse(request, original.template_name, context, status=LOCKED_STATUS)
    return response.render()


def _username(credentials) -> str:
    return (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD, "")
