"""Recurring work, declared once here and registered by `manage.py register_schedules` (which
migrate runs too). Each entry: a unique name, a task by dotted path, and its period in minutes.

django-q2's scheduler looks at due schedules only about every 30 s, so a job that must be on time
to the second keeps its own due times in our tables and is only woken by these entries.
"""

from dataclasses import dataclass

from config.env import env_int


@dataclass(frozen=True)
class Recurring:
    name: str
    func: str
    minutes: int


PREFIX = "relay:"

SCHEDULES: list[Recurring] = [
    # Alert intake: retries of outgoing webhooks, alerts left ungrouped, heartbeats, stale alerts.
    Recurring("webhooks-retry", "incidents.tasks.retry_webhooks", 1),
    Recurring("alerts-pending", "incidents.tasks.process_pending_alerts", 1),
    Recurring("heartbeats", "incidents.tasks.check_heartbeats", 1),
    Recurring("alerts-stale", "incidents.tasks.close_stale_alerts", 60),
    # Restarts a worker's timer ticker thread (config.timers.run_ticker) if it ever ended.
    Recurring("timer-ticker", "config.timers.run_ticker", 1),
    # "You are on call from 18:00" / "you are on call now".
    Recurring("handoff-notices", "oncall.services.send_handoff_notices", 1),
    # Signed checkpoints of every chain's head, outside the database (incidents/checkpoints.py).
    Recurring("checkpoints", "incidents.checkpoints.scheduled",
              env_int("RELAY_CHECKPOINT_MINUTES", 5, minimum=1)),
]
