"""Extend the role groups (0003) to escalation runs and pages: admins and auditors see them in
the admin (read-only there; only incidents.escalation changes them)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ["escalationrun", "page"]


def grant(apps, schema_editor):
    config = apps.get_app_config("incidents")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="incidents",
                                      content_type__model__in=MODELS)
    for name, wanted in (("Admins", perms), ("Auditors", perms.filter(codename__startswith="view_"))):
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.add(*wanted)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_page_bundles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
