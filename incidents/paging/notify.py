"""Notices: telling people about an incident through their contact methods, outside escalation.

The owning team's lead hears of a declaration, the people around an incident hear of an SLA
warning, the communications lead hears that a customer update is due. A notice is a Page row of
purpose NOTICE: it goes through the page outbox (claims, retries, throttles and bundling with
pages to the same method, config/outbox.py and incidents.paging.delivery) and cannot act on the
incident (services.act_on_page refuses it).

Each (incident, person, contact method, reason) is noticed once: the reason is the key, so a
timer firing twice or two workers racing write one row. A restricted incident's notice says only
its reference and why (incidents.paging.messages), and notifying a person of a restricted
incident grants them access, on the timeline, as a page does.
"""

from django.db import transaction
from django_q.tasks import async_task

from incidents.models import EntryKind, Incident, Page, PagePurpose
from incidents.paging.escalation import _grant_paged
from incidents.timeline import record
from oncall.models import ContactMethod

ROBOT = "Relay notices"
REASON_MAX = 100


def notify(incident: Incident, people, *, reason: str, subject: str, text: str,
           why: str = "") -> list[Page]:
    """Queue one notice per enabled contact method of each person (each once per `reason`) and
    say so on the timeline; return the new notices. Runs inside the caller's transaction (the
    timeline entry needs it); delivery starts when it commits.

    `subject` and `text` must not carry the incident's title or other internal text when the
    incident is restricted: they are replaced by a neutral line then. `why` is the timeline's
    short wording ("the owning team's lead", "SLA warning")."""
    if len(reason) > REASON_MAX:
        raise ValueError(f"A notice reason has at most {REASON_MAX} characters: {reason!r}")
    people = {u.pk: u for u in people if u is not None and u.is_active}
    if not people:
        return []
    if incident.restricted:
        subject = f"[Relay] {incident.reference} ({incident.severity}): {why or 'notice'}"
        text = (f"{incident.reference} is restricted; open Relay to see it "
                f"({why or 'a notice'}).")
    methods = list(ContactMethod.objects.filter(user_id__in=people, enabled=True)
                   .order_by("user_id", "id"))
    rows = [Page(incident=incident, run=None, purpose=PagePurpose.NOTICE, step=0, round=0,
                 user_id=m.user_id, contact_method=m, channel=m.kind, address=m.address,
                 reason=reason, subject=subject[:300], body=text)
            for m in methods]
    existing = set(Page.objects.filter(incident=incident, purpose=PagePurpose.NOTICE,
                                       reason=reason).values_list("user_id", "channel",
                                                                  "address"))
    fresh = [r for r in rows if (r.user_id, r.channel, r.address) not in existing]
    if not fresh and existing:
        return []
    Page.objects.bulk_create(fresh, ignore_conflicts=True)
    created = list(Page.objects.filter(incident=incident, purpose=PagePurpose.NOTICE,
                                       reason=reason, status="pending", claimed_at=None)
                   .filter(pk__in=_ids_of(incident, reason, fresh)))
    reached = sorted({people[r.user_id].get_username() for r in fresh})
    unreachable = sorted(u.get_username() for pk, u in people.items()
                         if not any(m.user_id == pk for m in methods))
    if fresh or unreachable:
        note = f"Notified {', '.join(reached)}" if reached else "Nobody could be notified"
        if why:
            note += f" ({why})"
        note += "."
        if unreachable:
            note += f" No contact method for {', '.join(unreachable)}."
        record(incident, EntryKind.NOTIFICATION, actor_label=ROBOT, new=reason,
               note=note, data={"reason": reason, "notified": reached,
                                "unreachable": unreachable, "why": why})
    _grant_paged(incident, [people[pk] for pk in people if any(m.user_id == pk for m in methods)])
    for page in created:
        transaction.on_commit(lambda pk=page.pk: async_task("incidents.tasks.deliver_page", pk))
    return created


def _ids_of(incident: Incident, reason: str, rows: list[Page]) -> list[int]:
    keys = {(r.user_id, r.channel, r.address) for r in rows}
    return [pk for pk, *key in Page.objects.filter(
        incident=incident, purpose=PagePurpose.NOTICE, reason=reason).values_list(
        "pk", "user_id", "channel", "address") if tuple(key) in keys]
