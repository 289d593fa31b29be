from django.urls import path

from incidents.intake import endpoints

app_name = "integrations"
urlpatterns = [
    path("alertmanager/<str:key>/", endpoints.alertmanager, name="alertmanager"),
    path("grafana/<str:key>/", endpoints.grafana, name="grafana"),
    path("generic/<str:key>/", endpoints.generic_alert, name="generic"),
    path("generic/<str:key>/change/", endpoints.generic_change, name="generic-change"),
    path("email/<str:key>/", endpoints.email, name="email"),
    path("heartbeat/<str:key>/", endpoints.heartbeat, name="heartbeat"),
    path("pagerduty/v2/enqueue", endpoints.pagerduty_enqueue, name="pagerduty"),
    path("pagerduty/v2/change/enqueue", endpoints.pagerduty_change, name="pagerduty-change"),
]
