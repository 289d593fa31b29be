"""What comms adds to the incident page's header (incidents.views.INCIDENT_FACTS): the affected
customers and the SLA clock with the least time left, each for those allowed to see them."""

from django.utils import timezone
from django.utils.html import format_html

from comms.sla import present, services

CUSTOMERS_SHOWN = 3


def incident_facts(incident, user) -> list[dict]:
    facts = []
    if user.has_perm("comms.view_customer"):
        names = list(incident.customers.order_by("name").values_list("name", flat=True))
        shown = ", ".join(names[:CUSTOMERS_SHOWN]) or "—"
        if len(names) > CUSTOMERS_SHOWN:
            shown += f" and {len(names) - CUSTOMERS_SHOWN} more"
        facts.append({"label": "Customers", "value": shown, "css": "fact-customers"})
    if user.has_perm("comms.view_slaclock"):
        clocks = services.open_clocks_of([incident.pk]).get(incident.pk, [])
        if clocks:
            calendars = services.calendars_for(clocks)
            now = timezone.now()
            urgent = present.most_urgent(
                [present.describe(c, now, calendars.get(c.calendar_id)) for c in clocks])
            if urgent is not None:
                facts.append({"label": "SLA", "css": f"fact-sla level-{urgent.level}",
                              "value": format_html('{} · {}: <span class="sla-left">{}</span>',
                                                   urgent.kind, urgent.who, urgent.text)})
    return facts
