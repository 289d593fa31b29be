from django.urls import path

from postmortems.insights import views

app_name = "insights"
urlpatterns = [
    path("insights/", views.index, name="index"),
    path("insights/<slug:chart>.csv", views.export, name="export"),
]
