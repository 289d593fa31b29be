"""django-q2 tasks: thin, idempotent, primitive ids in; the service functions do the work (see
config/schedules.py for the recurring ones). Timers are woken on time by the timer engine
(config/timers.py); the sources for escalation runs and pages are in incidents/paging/timers.py.
"""

from incidents.intake import heartbeats, pipeline
from incidents.paging import delivery, escalation
from incidents.webhooks import outbox


def deliver_webhook(delivery_id: int) -> str:
    return outbox.deliver(delivery_id)


def retry_webhooks() -> int:
    return outbox.retry_due()


def process_pending_alerts() -> int:
    return pipeline.process_pending()


def close_stale_alerts() -> int:
    return pipeline.close_stale_alerts()


def check_heartbeats() -> int:
    return heartbeats.check_missed()


def advance_run(run_id: int) -> None:
    escalation.advance(run_id)


def deliver_page(page_id: int) -> None:
    delivery.deliver(page_id)


def tick() -> None:
    """Everything due, done in this task (for a deployment whose workers run no ticker thread)."""
    escalation.tick()
