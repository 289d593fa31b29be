from django.urls import path

from comms.status import pages

urlpatterns = [
    path("", pages.page, name="page"),
    path("history/", pages.history, name="history"),
    path("history/<int:year>/<int:month>/", pages.history_month, name="history-month"),
    path("incidents/<str:code>/", pages.incident, name="incident"),
    path("maintenances/<str:code>/", pages.maintenance, name="maintenance"),
    path("internal/", pages.internal, name="internal"),
]
