from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-mortems"

    def ready(self):
        from config import timers
        from incidents.timeline import on_record
        from incidents.views import add_incident_panel
        from postmortems import drafting
        from postmortems.items import reminders

        # Resolving an incident marks its post-mortem due for drafting; the timer writes it.
        on_record(drafting.on_timeline)
        timers.register(drafting.DRAFTS)
        # Owners of action items hear before and on the due date.
        timers.register(reminders.REMINDERS)
        add_incident_panel("postmortems:incident-panel")
        # An incident's evidence bundle carries its post-mortem.
        from incidents.evidence import add_part
        from postmortems import evidence

        add_part("postmortem", evidence.part, "postmortems/evidence.html")
