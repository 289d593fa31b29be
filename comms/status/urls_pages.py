from django.urls import path

from comms.status import pages

urlpatterns = [
    path("incidents/<str:code>/", pages.incident, name="incident"),
    path("maintenances/<str:code>/", pages.maintenance, name="maintenance"),
]
