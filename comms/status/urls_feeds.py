"""The status page's history as feeds, at Statuspage's paths."""

from django.urls import path

from comms.status import feeds

urlpatterns = [
    path("history.atom", feeds.atom, name="history-atom"),
    path("history.rss", feeds.rss, name="history-rss"),
]
