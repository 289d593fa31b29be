from django.urls import path

from incidents.paging import views

app_name = "paging"
urlpatterns = [
    path("pages/<str:token>/<str:action>/", views.page_action, name="page-action"),
    path("oncall/me/", views.my_oncall, name="my-oncall"),
    path("oncall/email/reply/", views.email_reply, name="email-reply"),
]
