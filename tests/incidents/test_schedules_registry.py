from django.core.management import call_command
from django_q.models import Schedule

from config import schedules
from config.schedules import PREFIX, Recurring


def test_register_schedules_matches_the_table_and_leaves_others_alone(db, monkeypatch, capsys):
    Schedule.objects.create(name="someone-else", func="math.floor", schedule_type=Schedule.DAILY)
    Schedule.objects.create(name=PREFIX + "retired", func="math.floor",
                            schedule_type=Schedule.MINUTES, minutes=5)
    monkeypatch.setattr(schedules, "SCHEDULES", [Recurring("tick", "math.ceil", 1)])
    monkeypatch.setattr("incidents.management.commands.register_schedules.SCHEDULES",
                        schedules.SCHEDULES)
    call_command("register_schedules")
    call_command("register_schedules")  # idempotent
    rows = {s.name: (s.func, s.minutes) for s in Schedule.objects.all()}
    assert rows == {"someone-else": ("math.floor", None), PREFIX + "tick": ("math.ceil", 1)}
    assert "1 recurring task(s) registered" in capsys.readouterr().out
