from django.urls import path

from comms.sla import views

app_name = "sla"
urlpatterns = [
    path("incidents/<int:number>/sla/", views.incident_panel, name="incident-panel"),
]
