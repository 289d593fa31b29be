"""Reminders of action items (stub: filled in by the action-items work)."""

from config.timers import Source

REMINDERS = Source(name="action-item-reminders", due=lambda now: [], run=lambda pk, now: None)
