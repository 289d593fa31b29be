"""Delivering subscriber notices (to be written): an outbox and a timer source."""

from config.timers import Source


def due(now):
    return []


def deliver(notice_id, now=None):
    return None


NOTICES = Source(name="status-notices", due=due, run=deliver)
