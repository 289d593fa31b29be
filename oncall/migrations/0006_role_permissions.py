"""Extend the role groups (incidents 0003) to the on-call models: everyone with a role reads
schedules and policies; responders also create overrides and swaps; auditors read everything."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = ["schedule", "layer", "layermember", "override", "swap", "escalationpolicy",
        "escalationstep"]
ROLES = {
    "Responders": [f"view_{m}" for m in READ] + ["add_override", "add_swap", "change_swap"],
    "Communications": [f"view_{m}" for m in READ],
    "Auditors": [f"view_{m}" for m in READ + ["contactmethod", "notificationrule",
                                              "calendarfeed"]],
}


def grant(apps, schema_editor):
    config = apps.get_app_config("oncall")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    oncall = Permission.objects.filter(content_type__app_label="oncall")
    for name, codenames in ROLES.items():
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.add(*oncall.filter(codename__in=codenames))
    admins = Group.objects.filter(name="Admins").first()
    if admins:
        admins.permissions.add(*oncall)


class Migration(migrations.Migration):
    dependencies = [
        ("oncall", "0005_swaps_and_handoff_notices"),
        ("incidents", "0003_role_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
