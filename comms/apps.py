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
