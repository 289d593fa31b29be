from django.urls import path

from comms.messages import views

app_name = "messages"
urlpatterns = [
    path("incidents/<int:number>/messages/", views.incident_panel, name="incident-panel"),
]
