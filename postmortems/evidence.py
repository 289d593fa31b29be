"""An incident's post-mortem in its evidence bundle (incidents.evidence): its content and state
as the JSON export has it, its reviews, its published revisions, and its action items."""

from incidents.evidence import Part, iso
from postmortems import document
from postmortems.models import Postmortem


def _name(user) -> str | None:
    return user.get_username() if user else None


def part(incident) -> Part:
    postmortem = (Postmortem.objects.filter(incident=incident)
                  .select_related("incident", "edited_by", "submitted_by", "published_by")
                  .first())
    if postmortem is None:
        return Part(None, [])
    data = document.content(postmortem)
    items = data["action_items"]
    data.update({
        "id": postmortem.pk,
        **{role: _name(getattr(postmortem, role))
           for role in ("edited_by", "submitted_by", "published_by")},
        **{name: iso(getattr(postmortem, name))
           for name in ("created_at", "edited_at", "submitted_at", "published_at")},
        "reviews": [{"reviewer": _name(r.reviewer), "verdict": r.verdict, "comment": r.comment,
                     "requested_at": iso(r.requested_at), "decided_at": iso(r.decided_at)}
                    for r in postmortem.reviews.select_related("reviewer").order_by("id")],
        "revisions": [{"number": r.number, "published_at": iso(r.published_at),
                       "published_by": _name(r.published_by), "reason": r.reason}
                      for r in postmortem.revisions.select_related("published_by")
                      .order_by("number")],
    })
    objects = [("postmortems.postmortem", str(postmortem.pk)),
               *(("postmortems.actionitem", str(item["id"])) for item in items)]
    return Part(data, objects)
