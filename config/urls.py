from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

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
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True),
         name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(
        url_name="schema", template_name="api_docs.html"), name="api-docs"),
]
