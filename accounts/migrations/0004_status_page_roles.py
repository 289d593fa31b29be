"""Grant the role groups the status-page permissions (accounts.roles)."""

from django.db import migrations

from accounts.roles import sync_role_groups


def sync(apps, schema_editor):
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_comms_roles"),
        ("comms", "0002_status_page"),
        ("incidents", "0018_status_page"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
