from django.urls import path

from incidents.intake import views

app_name = "intake"
urlpatterns = [
    path("services/", views.service_list, name="services"),
    path("services/<slug:slug>/", views.service_detail, name="service"),
    path("services/<slug:slug>/settings/", views.service_settings, name="service-settings"),
    path("services/<slug:slug>/integrations/", views.integration_create, name="integration-create"),
    path("services/<slug:slug>/integrations/<int:pk>/rotate/", views.integration_rotate,
         name="integration-rotate"),
    path("services/<slug:slug>/heartbeats/", views.heartbeat_create, name="heartbeat-create"),
    path("services/<slug:slug>/maintenance/", views.window_create, name="window-create"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_edit, name="rule-new"),
    path("rules/<int:pk>/", views.rule_edit, name="rule"),
    path("incidents/<int:number>/alerts/", views.incident_alerts, name="incident-alerts"),
]
