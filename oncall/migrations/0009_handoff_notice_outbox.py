"""Hand-off notices become outbox rows (config.outbox): a status, a due time, a claim, attempts
and the last error, so a notice whose email failed is retried. Rows written before this were
sent inline: they become "sent" with one attempt, created when they were sent."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def mark_old_notices_sent(apps, schema_editor):
    notices = apps.get_model("oncall", "HandoffNotice")
    notices.objects.update(status="sent", attempts=1, created_at=F("sent_at"),
                           due_at=F("sent_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("oncall", "0008_move_api_token_to_accounts"),
    ]

    operations = [
        migrations.AddField(
            model_name="handoffnotice",
            name="shift_end",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="handoffnotice",
            name="status",
            field=models.CharField(choices=[("pending", "Pending"), ("sent", "Sent"),
                                            ("failed", "Failed")],
                                   default="pending", max_length=8),
        ),
        migrations.AddField(
            model_name="handoffnotice",
            name="due_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="handoffnotice",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="handoffnotice",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="handoffnotice",
            name="last_error",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="handoffnotice",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="handoffnotice",
            name="sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="handoffnotice",
            index=models.Index(condition=models.Q(("status", "pending")), fields=["due_at"],
                               name="handoff_notice_pending_idx"),
        ),
        # Last: on PostgreSQL no schema change may follow an update in one transaction.
        migrations.RunPython(mark_old_notices_sent, migrations.RunPython.noop),
    ]
