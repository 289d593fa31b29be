from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views

# JSON for the API and intake, the site's page elsewhere.
handler404 = "config.errors.not_found"

urlpatterns = [
    # First: intake is the busiest path, and Django tries the patterns in order.
    path("integrations/", include("incidents.intake.endpoint_urls")),
    # Second: an outage sends everyone to the status page at once (bench/status_page.py).
    path("status/", include("comms.status.urls")),
    path("", include("incidents.urls")),
    path("", include("incidents.intake.urls")),
    path("", include("incidents.webhooks.urls")),
    path("", include("incidents.paging.urls")),
    path("", include("comms.customers.urls")),
    path("", include("comms.sla.urls")),
    path("", include("comms.messages.urls")),
    path("", include("postmortems.urls")),
    path("", include("postmortems.items.urls")),
    path("", include("postmortems.insights.urls")),
    path("oncall/", include("oncall.urls")),
    path("accounts/", include("accounts.urls")),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", account_views.logout_view, name="logout"),
    # Single sign-on (accounts/sso.py); the names are the ones mozilla-django-oidc reverses.
    path("oidc/authenticate/", account_views.SignInStart.as_view(),
         name="oidc_authentication_init"),
    path("oidc/callback/", account_views.SignInCallback.as_view(),
         name="oidc_authentication_callback"),
    # Before the admin's own: with LOCAL_PASSWORDS off it takes no password either.
    path("admin/login/", account_views.admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(
        url_name="schema", template_name="api_docs.html"), name="api-docs"),
    # Pages that do not name an icon (the Django admin's) make browsers ask for this one.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("favicon.svg"))),
]
