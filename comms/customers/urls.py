from django.urls import path

from comms.customers import views

app_name = "customers"
urlpatterns = [
    path("incidents/<int:number>/customers/", views.incident_panel, name="incident-panel"),
]
