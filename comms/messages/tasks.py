"""django-q2 tasks of customer messages: thin, primitive ids in; delivery.py does the work."""

from comms.messages import delivery


def deliver_message(delivery_id: int) -> str | None:
    return delivery.deliver(delivery_id)
