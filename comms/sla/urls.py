from django.urls import path

from comms.sla import views

app_name = "sla"
urlpatterns = [
    path("incidents/<int:number>/sla/", views.incident_panel, name="incident-panel"),
    path("incidents/<int:number>/sla/pause/", views.pause, name="pause"),
    path("incidents/<int:number>/sla/resume/", views.resume, name="resume"),
    path("sla/", views.index, name="index"),
    path("sla/settings/", views.settings_index, name="settings"),
    path("sla/settings/tiers/<slug:slug>/", views.tier_settings, name="tier"),
    path("sla/settings/calendars/new/", views.calendar_settings, name="calendar-new"),
    path("sla/settings/calendars/<int:pk>/", views.calendar_settings, name="calendar"),
]
