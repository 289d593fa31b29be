from django.urls import path

from incidents.webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook"),
    path("webhooks/<int:pk>/test/", views.webhook_test, name="webhook-test"),
]
