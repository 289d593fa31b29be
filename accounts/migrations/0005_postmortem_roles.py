"""Grant the role groups the post-mortem permissions (accounts.roles)."""

from django.db import migrations

from accounts.roles import sync_role_groups


def sync(apps, schema_editor):
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_status_page_roles"),
        ("postmortems", "0001_postmortems"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
