"""The four role groups and their permissions, frozen here; later migrations extend them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_ALL = [
    ("incidents", "incident"), ("incidents", "timelineentry"), ("incidents", "service"),
    ("incidents", "customertier"), ("oncall", "team"),
]
ROLES = {
    "Responders": {
        "view": VIEW_ALL,
        "extra": [("incidents", "add_incident"), ("incidents", "change_incident")],
    },
    "Communications": {"view": VIEW_ALL, "extra": []},
    "Auditors": {
        "view": VIEW_ALL + [("oncall", "apitoken")],
        "extra": [("incidents", "view_all_restricted")],
    },
}
ADMIN_APPS = ["incidents", "oncall"]
ADMIN_AUTH_MODELS = ["user", "group"]


def create_groups(apps, schema_editor):
    for label in ("auth", "contenttypes", "incidents", "oncall"):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def perm(app, codename):
        return Permission.objects.get(content_type__app_label=app, codename=codename)

    for name, spec in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = [perm(app, f"view_{model}") for app, model in spec["view"]]
        perms += [perm(app, codename) for app, codename in spec["extra"]]
        group.permissions.add(*perms)
    admins, _ = Group.objects.get_or_create(name="Admins")
    admins.permissions.add(*Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    admins.permissions.add(*Permission.objects.filter(
        content_type__app_label="auth", content_type__model__in=ADMIN_AUTH_MODELS))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=[*ROLES, "Admins"], team__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0002_history_triggers"),
        ("oncall", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
