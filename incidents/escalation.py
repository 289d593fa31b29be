"""The escalation run of one incident: who is paged, when, and when it stops.

declare() calls start() inside its transaction when the new incident should page; the on-call
module builds the run (policy snapshot, steps, pages) on this entry point.
"""

from incidents.models import Incident


def start(incident: Incident, *, by=None) -> None:
    """Begin paging for a newly triggered incident with an escalation policy."""
