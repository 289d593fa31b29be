"""django-q2 tasks of alert intake: thin, idempotent, primitive ids in, the service functions do
the work (see config/schedules.py for the recurring ones)."""

from incidents import heartbeats, intake, webhooks


def deliver_webhook(delivery_id: int) -> str:
    return webhooks.deliver(delivery_id)


def retry_webhooks() -> int:
    return webhooks.retry_due()


def process_pending_alerts() -> int:
    return intake.process_pending()


def close_stale_alerts() -> int:
    return intake.close_stale_alerts()


def check_heartbeats() -> int:
    return heartbeats.check_missed()
