"""A service's settings, rules and maintenance windows, cached per process for
ROUTING_CACHE_SECONDS (this process forgets at once, through forget_routing on save and delete)."""

import time
from dataclasses import dataclass

from django.utils import timezone

from incidents.intake import rules
from incidents.models import (
    AlertRule,
    MaintenanceWindow,
    Service,
)

# A changed service setting, rule or maintenance window reaches other processes this late (this
# process forgets at once, through forget_routing on save and delete).
ROUTING_CACHE_SECONDS = 5



@dataclass(frozen=True)
class Routing:
    service: Service
    rules: list[AlertRule]
    windows: list[MaintenanceWindow]  # those not over when read
    expires: float


_routing_cache: dict[int, Routing] = {}
# Incidents known to name ALERT_ENTRIES_PER_INCIDENT alerts on their timeline already: alerts are
# never detached, so once full an incident stays full and needs no more counting.
full_timelines: set[int] = set()


def routing_for(service_id: int) -> Routing:
    cached = _routing_cache.get(service_id)
    if cached is None or cached.expires < time.monotonic():
        service = Service.objects.select_related("escalation_policy").get(pk=service_id)
        cached = Routing(service, rules.rules_for(service),
                         rules.windows_not_over(service, timezone.now()),
                         time.monotonic() + ROUTING_CACHE_SECONDS)
        _routing_cache[service_id] = cached
    return cached


def forget_routing(**signal_kwargs) -> None:
    """Receiver of save and delete of services, rules and maintenance windows."""
    _routing_cache.clear()
    full_timelines.clear()
