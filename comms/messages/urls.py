from django.urls import path

from comms.messages import views

app_name = "messages"
urlpatterns = [
    path("incidents/<int:number>/messages/", views.incident_panel, name="incident-panel"),
    path("incidents/<int:number>/messages/new/", views.new_message, name="new"),
    path("incidents/<int:number>/messages/cadence/", views.set_cadence, name="cadence"),
    path("messages/<int:pk>/edit/", views.edit_message, name="edit"),
    path("messages/<int:pk>/<str:action>/", views.act, name="act"),
    path("messages/templates/", views.templates_page, name="templates"),
    path("messages/templates/<str:phase>/", views.save_template, name="template"),
]
