"""The role groups as accounts.roles declares them. Runs after the latest migration of every app
the table names, so all its permissions exist; the older data migrations (incidents 0003, 0007,
0008, oncall 0006) stay in history and this one adds whatever they left out."""

from django.db import migrations

from accounts.roles import sync_role_groups


def sync(apps, schema_editor):
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_move_api_token"),
        ("oncall", "0008_move_api_token_to_accounts"),
        ("incidents", "0014_webhook_url_not_private"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
    ]

    # Backwards: the groups stay; incidents 0003 removes them when unapplied.
    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
