"""The staff pages (comms.status.manage): actions are verb sub-URLs under their object."""

from django.urls import path

from comms.status import manage

CODE = "<slug:code>"
urlpatterns = [
    path("manage/", manage.overview, name="manage"),
    path("manage/branding/", manage.branding, name="manage-branding"),
    path("manage/components/new/", manage.component_new, name="manage-component-new"),
    path(f"manage/components/{CODE}/", manage.component_edit, name="manage-component"),
    path(f"manage/components/{CODE}/status/", manage.set_status, name="manage-component-status"),
    path(f"manage/components/{CODE}/delete/", manage.component_delete,
         name="manage-component-delete"),
    path("manage/groups/new/", manage.group_new, name="manage-group-new"),
    path(f"manage/groups/{CODE}/", manage.group_edit, name="manage-group"),
    path(f"manage/groups/{CODE}/delete/", manage.group_delete, name="manage-group-delete"),
    path("manage/maintenances/new/", manage.maintenance_new, name="manage-maintenance-new"),
    path(f"manage/maintenances/{CODE}/", manage.maintenance_detail, name="manage-maintenance"),
    path(f"manage/maintenances/{CODE}/update/", manage.maintenance_update,
         name="manage-maintenance-update"),
    path(f"manage/maintenances/{CODE}/complete/", manage.maintenance_complete,
         name="manage-maintenance-complete"),
    path(f"manage/maintenances/{CODE}/delete/", manage.maintenance_delete,
         name="manage-maintenance-delete"),
]
