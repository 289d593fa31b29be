"""Scheduled maintenance moving along on its own (to be written): a timer source."""

from config.timers import Source


def due(now):
    return []


def advance(maintenance_id, now):
    return None


MAINTENANCE = Source(name="status-maintenance", due=due, run=advance)
