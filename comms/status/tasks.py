"""django-q2 tasks of the status page: thin, primitive ids in; delivery.py does the work."""

from comms.status import delivery


def deliver_notice(notice_id: int) -> str | None:
    return delivery.deliver(notice_id)
