from django.urls import path

from comms.sla import views

app_name = "sla"
urlpatterns = [
    path("incidents/<int:number>/sla/", views.incident_panel, name="incident-panel"),
    path("incidents/<int:number>/sla/pause/", views.pause, name="pause"),
    path("incidents/<int:number>/sla/resume/", views.resume, name="resume"),
]
