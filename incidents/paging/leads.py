"""The owning team's lead hears of every declaration, whichever path declared it (portal, API,
intake, a customer report), in addition to the escalation policy's pages; and an incident that
pages nobody says so loudly.

"Nobody will be paged" means: the incident names services, none of them had an escalation policy
(nor did a routing rule choose one), and none of their teams has a lead to tell. An incident
without services is not flagged: nothing was chosen that could have paged.
"""

from incidents.models import EntryKind, Incident
from incidents.paging.notify import ROBOT, notify
from incidents.timeline import record

REASON = "lead:declared"


def owning_leads(services) -> list:
    leads = {s.team.lead_id: s.team.lead for s in services if s.team_id and s.team.lead_id}
    return list(leads.values())


def nobody_will_be_paged(services, policy=None) -> bool:
    """For the declare and report forms, before anything exists."""
    services = list(services)
    return bool(services) and policy is None and not any(
        s.escalation_policy_id for s in services) and not owning_leads(services)


def incident_pages_nobody(incident: Incident) -> bool:
    """For the incident page (its services and their teams are prefetched there)."""
    return (incident.is_open and not incident.escalation_policy_id
            and nobody_will_be_paged(incident.services.all()))


def silence_sentence(services) -> str:
    services = list(services)
    names = ", ".join(s.name for s in services)
    has, them = ("have", "them") if len(services) > 1 else ("has", "it")
    return (f"Nobody will be paged: {names} {has} no escalation policy and no team lead. "
            f"Page someone by hand or give {them} a policy.")


def on_declared(incident: Incident, *, services, by, paging: bool) -> None:
    """Inside declare()'s transaction, after the DECLARED entry. An incident opened without
    paging (a maintenance window, a suppression rule) tells nobody: that is what it asked for."""
    if not paging:
        return
    services = list(services)
    leads = [u for u in owning_leads(services) if not by or u.pk != by.pk]
    if leads:
        names = ", ".join(s.name for s in services)
        notify(incident, leads, reason=REASON,
               subject=f"[Relay] {incident.reference} {incident.severity} declared on {names}: "
                       f"{incident.title}",
               text=(f"{incident.reference} ({incident.get_severity_display()}) was declared "
                     f"on {names}, which your team owns: {incident.title}."),
               why="lead of the owning team")
    if nobody_will_be_paged(services, incident.escalation_policy):
        record(incident, EntryKind.NOTIFICATION, actor_label=ROBOT, new="nobody",
               note=silence_sentence(services),
               data={"reason": "nobody-paged", "services": sorted(s.slug for s in services)})
