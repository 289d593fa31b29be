from django.urls import path

from postmortems.items import views

app_name = "items"
urlpatterns = [
    path("incidents/<int:number>/postmortem/items/", views.incident_items,
         name="incident-items"),
    path("incidents/<int:number>/postmortem/items/new/", views.new_item, name="new"),
    path("action-items/", views.my_items, name="mine"),
    path("action-items/<int:pk>/edit/", views.edit_item, name="edit"),
    path("action-items/<int:pk>/status/", views.set_status, name="status"),
]
