"""Grant Auditors and Admins the audit log's view permission (accounts.roles)."""

from django.db import migrations

from accounts.roles import sync_role_groups


def sync(apps, schema_editor):
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_profile_sso_identity"),
        ("incidents", "0021_signed_record_and_audit_log"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
