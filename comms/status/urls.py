"""Everything under /status/: the public page and its feeds, subscriptions, staff pages."""

from comms.status import urls_feeds, urls_manage, urls_pages, urls_subscribe, urls_v2

app_name = "status"
# The busiest first: Django tries the patterns in order, and under a stampede every pattern
# tried before the page's own is paid on every request.
urlpatterns = [*urls_pages.urlpatterns, *urls_v2.urlpatterns, *urls_feeds.urlpatterns,
               *urls_subscribe.urlpatterns, *urls_manage.urlpatterns]
