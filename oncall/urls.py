from django.urls import path

from oncall import views

app_name = "oncall"
urlpatterns = [
    path("", views.index, name="index"),
    path("now/", views.now, name="now"),
    path("schedules/new/", views.schedule_edit, name="schedule-new"),
    path("schedules/<int:pk>/", views.schedule_detail, name="schedule"),
    path("schedules/<int:pk>/edit/", views.schedule_edit, name="schedule-edit"),
    path("schedules/<int:pk>/overrides/", views.override_create, name="override-create"),
    path("overrides/<int:pk>/delete/", views.override_delete, name="override-delete"),
    path("schedules/<int:pk>/swaps/", views.swap_offer, name="swap-offer"),
    path("swaps/<int:pk>/take/", views.swap_take, name="swap-take"),
    path("swaps/<int:pk>/undo/", views.swap_undo, name="swap-undo"),
    path("policies/new/", views.policy_edit, name="policy-new"),
    path("policies/<int:pk>/", views.policy_detail, name="policy"),
    path("policies/<int:pk>/edit/", views.policy_edit, name="policy-edit"),
    path("schedules/<int:pk>/calendar.ics", views.schedule_calendar, name="schedule-calendar"),
    path("people/<int:pk>/calendar.ics", views.user_calendar, name="user-calendar"),
]
