from django.urls import path

from comms.customers import views

app_name = "customers"
urlpatterns = [
    path("customers/", views.customer_list, name="list"),
    path("customers/new/", views.customer_create, name="create"),
    path("customers/report/", views.report, name="report"),
    path("customers/report/suggestion/", views.report_suggestion, name="report-suggestion"),
    path("customers/<int:pk>/", views.customer_detail, name="detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="edit"),
    path("incidents/<int:number>/customers/", views.incident_panel, name="incident-panel"),
    path("incidents/<int:number>/customers/set/", views.incident_set_customers,
         name="incident-set"),
]
