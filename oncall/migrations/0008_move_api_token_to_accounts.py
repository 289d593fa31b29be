"""ApiToken now belongs to accounts (accounts 0001 took it over with the same table): remove it
from oncall's state only, so the table and its rows stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("oncall", "0007_contact_method_throttle"),
        ("accounts", "0001_move_api_token"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")],
            database_operations=[],
        ),
    ]
