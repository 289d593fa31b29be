import logging
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import admin, auth, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.decorators.http import require_http_methods, require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts import sso, timezones
from accounts.forms import SettingsForm
from accounts.models import Profile

log = logging.getLogger(__name__)


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request):
    """A person's own settings: for now the time zone every page uses."""
    current = timezones.profile_zone_name(request.user)
    form = SettingsForm(request.POST or None, initial={"time_zone": current})
    if request.method == "POST":
        if form.is_valid():
            name = form.cleaned_data["time_zone"]
            with transaction.atomic():
                Profile.objects.update_or_create(user=request.user,
                                                 defaults={"time_zone": name})
            timezones.remember(request, name)
            messages.success(request, f"Times are now shown in {name or 'your browser’s zone'}.")
            return redirect("accounts:settings")
        return render(request, "accounts/settings.html", {"form": form}, status=400)
    return render(request, "accounts/settings.html", {"form": form})


def _sso_context(request) -> dict:
    """What the login page says about single sign-on: its button, or why it is unavailable."""
    if not sso.enabled():
        return {"sso": None}
    try:
        sso.endpoints()
    except sso.Unavailable as error:
        return {"sso": {"name": sso.provider_name(), "unavailable": str(error)}}
    return {"sso": {"name": sso.provider_name(), "unavailable": ""}}


class LoginView(auth_views.LoginView):
    """Django's login page (django-axes throttles its posts) plus the "Sign in with …" button.
    With LOCAL_PASSWORDS off it shows only the button and refuses any password."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(_sso_context(self.request), local_passwords=settings.LOCAL_PASSWORDS)
        return context

    def post(self, request, *args, **kwargs):
        if settings.LOCAL_PASSWORDS:
            return super().post(request, *args, **kwargs)
        context = self.get_context_data(passwords_refused=True)
        return self.render_to_response(context, status=403)


def admin_login(request, **kwargs):
    """The admin's login: Django's, unless passwords are off; then the portal's login page,
    whose single sign-on brings staff back to the admin."""
    if settings.LOCAL_PASSWORDS:
        return admin.site.login(request, **kwargs)
    if request.method == "POST":
        return LoginView.as_view()(request)  # refuses the password, with the page saying why
    next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")


def _sso_failure(request, message: str, status: int):
    return render(request, "registration/sso_failed.html",
                  {"message": message, "sso": {"name": sso.provider_name()}}, status=status)


class SignInStart(OIDCAuthenticationRequestView):
    """Redirects to the provider's authorization endpoint (state, nonce and PKCE kept in the
    session by the library)."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the library's reads endpoints from settings; ours are found

    def get(self, request):
        if not sso.enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = sso.endpoints().authorization
        except sso.Unavailable as error:
            return _sso_failure(request, f"Single sign-on is unavailable: {error}", 503)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class SignInCallback(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back. Every way a sign-in can fail is a page that
    says so (400 for a request that does not hold up, 403 for a refused person, 502/503 when
    the provider fails), never a 500."""

    def get(self, request):
        if not sso.enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            return super().get(request)
        except (SuspiciousOperation, jwt.InvalidTokenError) as error:
            # A state this browser never started, a replayed one, a nonce or token that does not
            # match: someone else's sign-in, or a tampered one.
            log.warning("Refused a single sign-on callback: %s", error)
            return _sso_failure(request, "This sign-in could not be verified: it was not started "
                                "in this browser, was already used, or was altered. Start again.",
                                400)
        except requests.HTTPError:
            return _sso_failure(request, f"{sso.provider_name()} did not accept this sign-in "
                                "(it may have expired). Start again.", 400)
        except (requests.RequestException, sso.Unavailable) as error:
            log.warning("Single sign-on callback failed: %s", error)
            return _sso_failure(request, f"{sso.provider_name()} did not answer; try again "
                                "later.", 502)

    def login_failure(self):
        refusal = getattr(self.request, "sso_refusal", None)
        if refusal:
            return _sso_failure(self.request, refusal, 403)
        if self.request.GET.get("error"):
            return _sso_failure(self.request, f"{sso.provider_name()} did not sign you in "
                                f"({self.request.GET['error']}).", 400)
        return _sso_failure(self.request, "This sign-in link is incomplete or was already used. "
                            "Start again.", 400)


@require_POST
def logout_view(request):
    """Ends the Relay session; after a single sign-on, also the provider's session when it offers
    RP-initiated logout (through a page that forwards, since a form's redirect to another origin
    is blocked by our form-action policy)."""
    id_token = request.session.get("oidc_id_token")
    auth.logout(request)
    end_session = None
    if id_token and sso.enabled():
        try:
            end_session = sso.endpoints().end_session
        except sso.Unavailable:
            end_session = None
    if not end_session:
        return redirect(settings.LOGOUT_REDIRECT_URL)
    query = urlencode({"id_token_hint": id_token, "client_id": settings.OIDC_RP_CLIENT_ID,
                       "post_logout_redirect_uri":
                       request.build_absolute_uri(settings.LOGOUT_REDIRECT_URL)})
    return render(request, "registration/signed_out.html",
                  {"forward": f"{end_session}?{query}", "sso": {"name": sso.provider_name()}})
