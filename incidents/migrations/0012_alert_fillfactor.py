"""Room on each page of incidents_alert for updated row versions (PostgreSQL only).

A repeat of an open alert updates its row (count, last_seen, raw). With free space on the row's
page PostgreSQL writes the new version there without touching the table's indexes (a HOT update);
on a full page it writes it elsewhere and adds an entry to every index. A storm repeats a few
open alerts hundreds of times a second, so their pages keep 30 % free. It applies to pages
written from now on."""

from django.db import migrations


def _set_fillfactor(value: str):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE incidents_alert {value}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("incidents", "0011_page_throttle_per_contact_method")]

    operations = [
        migrations.RunPython(_set_fillfactor("SET (fillfactor = 70)"),
                             _set_fillfactor("RESET (fillfactor)"), elidable=False),
    ]
