from django.urls import path

from oncall import views

app_name = "oncall"
urlpatterns = [
    path("", views.index, name="index"),
    path("now/", views.now, name="now"),
    path("schedules/<int:pk>/", views.schedule_detail, name="schedule"),
    path("schedules/<int:pk>/overrides/", views.override_create, name="override-create"),
    path("schedules/<int:pk>/swaps/", views.swap_offer, name="swap-offer"),
    path("swaps/<int:pk>/take/", views.swap_take, name="swap-take"),
    path("swaps/<int:pk>/undo/", views.swap_undo, name="swap-undo"),
    path("policies/<int:pk>/", views.policy_detail, name="policy"),
    path("schedules/<int:pk>/calendar.ics", views.schedule_calendar, name="schedule-calendar"),
    path("people/<int:pk>/calendar.ics", views.user_calendar, name="user-calendar"),
]
