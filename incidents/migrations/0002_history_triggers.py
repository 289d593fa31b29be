from django.db import migrations

from incidents import history_guard


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(history_guard.install, history_guard.uninstall)]
