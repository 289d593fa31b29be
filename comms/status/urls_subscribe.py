from django.urls import path

from comms.status import subscribe

urlpatterns = [
    path("subscribe/", subscribe.subscribe, name="subscribe"),
    path("subscribe/sent/", subscribe.subscribe_sent, name="subscribe-sent"),
    path("subscribe/confirm/<str:token>/", subscribe.confirm, name="subscribe-confirm"),
    path("subscribe/manage/<str:token>/", subscribe.manage, name="subscribe-manage"),
    path("unsubscribe/<str:token>/", subscribe.unsubscribe, name="unsubscribe"),
    path("manage/subscribers/", subscribe.subscribers, name="subscribers"),
    path("manage/subscribers/<int:pk>/delete/", subscribe.delete_subscriber,
         name="subscriber-delete"),
]
