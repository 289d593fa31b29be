"""ApiToken moves here from oncall without touching its table (still `oncall_apitoken`): this
migration only adds the model to accounts' state; oncall 0008 removes it from oncall's.

Its content type is relabelled too, so its permissions (and the groups and admin log entries that
point at them) follow the model instead of being left behind as stale `oncall.*_apitoken` rows."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _relabel(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    # Nothing to move on a database where the old one was never created, or the new one already is.
    if not ContentType.objects.filter(app_label=new, model="apitoken").exists():
        ContentType.objects.filter(app_label=old, model="apitoken").update(app_label=new)
    ContentType.objects.clear_cache()


def forwards(apps, schema_editor):
    _relabel(apps, "oncall", "accounts")


def backwards(apps, schema_editor):
    _relabel(apps, "accounts", "oncall")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("oncall", "0007_contact_method_throttle"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100)),
                        ("key_hash", models.CharField(editable=False, max_length=64,
                                                      unique=True)),
                        ("prefix", models.CharField(
                            editable=False, help_text="First characters, to recognise it.",
                            max_length=14)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, editable=False,
                                                              null=True)),
                        ("revoked", models.BooleanField(default=False)),
                        ("user", models.ForeignKey(
                            on_delete=django.db.models.deletion.CASCADE,
                            related_name="api_tokens", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name": "API token",
                        "ordering": ["-created_at"],
                        "db_table": "oncall_apitoken",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
