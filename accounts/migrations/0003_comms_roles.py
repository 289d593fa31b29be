"""Grant the role groups the customer-communications permissions (accounts.roles)."""

from django.db import migrations

from accounts.roles import sync_role_groups


def sync(apps, schema_editor):
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_role_groups"),
        ("comms", "0001_initial"),
        ("incidents", "0016_page_notices"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
