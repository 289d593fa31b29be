app_name = "items"
urlpatterns = []
