"""Notices to status-page subscribers (filled in by the subscribers work)."""


def for_message(message) -> None:
    """A message for the status page was published: queue a notice per subscriber."""


def for_maintenance(maintenance, kind: str) -> None:
    """A maintenance was scheduled, is about to start (kind "reminder") or changed state."""
