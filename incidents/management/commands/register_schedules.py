from django.core.management.base import BaseCommand
from django.db import transaction
from django_q.models import Schedule

from config.schedules import PREFIX, SCHEDULES


def register_schedules() -> tuple[int, int]:
    """Make django-q2's schedule table match config.schedules: create or update our entries,
    remove ours that are no longer declared, leave anyone else's alone. Idempotent."""
    wanted = {PREFIX + entry.name: entry for entry in SCHEDULES}
    with transaction.atomic():
        for name, entry in wanted.items():
            Schedule.objects.update_or_create(
                name=name,
                defaults={"func": entry.func, "schedule_type": Schedule.MINUTES,
                          "minutes": entry.minutes, "repeats": -1},
            )
        stale = Schedule.objects.filter(name__startswith=PREFIX).exclude(name__in=wanted)
        removed, _ = stale.delete()
    return len(wanted), removed


class Command(BaseCommand):
    help = "Register Relay's recurring tasks (config/schedules.py) with django-q2; idempotent."

    def handle(self, *args, **options):
        count, removed = register_schedules()
        self.stdout.write(f"{count} recurring task(s) registered, {removed} stale removed.")


def after_migrate(sender, **kwargs):
    register_schedules()
