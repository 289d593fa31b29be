from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "comms"
    verbose_name = "Customer communications"

    def ready(self):
        from incidents.views import add_incident_panel

        # Beside the timeline on the incident page, in this order.
        for panel in ("customers:incident-panel", "sla:incident-panel",
                      "messages:incident-panel"):
            add_incident_panel(panel)

        # Customer messages: the update cadence follows the incident; due updates and
        # deliveries are timer sources.
        from comms.messages import cadence, delivery, reminders
        from config import timers
        from incidents.timeline import on_record

        on_record(cadence.on_timeline_entry)
        timers.register(reminders.UPDATES_DUE)
        timers.register(delivery.DELIVERIES)
