from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "comms"
    verbose_name = "Customer communications"

    def ready(self):
        from config import timers
        from incidents.timeline import on_record
        from incidents.views import add_incident_facts, add_incident_panel

        # Beside the timeline on the incident page, in this order.
        for panel in ("customers:incident-panel", "sla:incident-panel",
                      "messages:incident-panel"):
            add_incident_panel(panel)
        from comms.facts import incident_facts

        add_incident_facts(incident_facts)

        # Customer messages: the update cadence follows the incident; due updates and
        # deliveries are timer sources.
        from comms.messages import cadence, delivery, reminders

        on_record(cadence.on_timeline_entry)
        timers.register(reminders.UPDATES_DUE)
        timers.register(delivery.DELIVERIES)

        # SLA clocks: recompute on the entries they depend on; announce warnings and breaches.
        from comms.sla import listing as sla_listing
        from comms.sla.services import on_timeline as sla_on_timeline
        from comms.sla.timers import SLA_ALERTS
        from incidents import queries

        on_record(sla_on_timeline)
        timers.register(SLA_ALERTS)
        queries.add_row_extra(sla_listing.ROW)
        queries.add_sort("sla", sla_listing.SORT)

        # The status page: shown incidents, components following their incidents.
        from comms.status import listeners as status_listeners

        on_record(status_listeners.on_timeline)
        from comms.status import delivery as status_delivery
        from comms.status import maintenance as status_maintenance

        timers.register(status_maintenance.MAINTENANCE)
        timers.register(status_delivery.NOTICES)

        # An incident's evidence bundle carries its customer messages.
        from comms.messages import evidence as message_evidence
        from incidents.evidence import add_part

        add_part("customer_messages", message_evidence.part, "comms/messages/evidence.html")
