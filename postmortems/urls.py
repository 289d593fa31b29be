from django.urls import path

from postmortems import views

app_name = "postmortems"
urlpatterns = [
    path("incidents/<int:number>/postmortem/panel/", views.incident_panel, name="incident-panel"),
]
