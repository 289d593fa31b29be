"""An incident's customer messages in its evidence bundle (incidents.evidence): every version,
published, pending, drafted or discarded, with who approved and published it and how its
deliveries ended (recipients by name; their addresses stay out of the bundle)."""

from comms.models import CustomerMessage
from incidents.evidence import Part, iso


def _name(user) -> str | None:
    return user.get_username() if user else None


def message_data(message: CustomerMessage) -> dict:
    people = {role: _name(getattr(message, role)) for role in (
        "author", "submitted_by", "approved_by", "published_by", "discarded_by")}
    return {
        "id": message.pk, "phase": message.phase, "subject": message.subject,
        "body": message.body, "state": message.state, "to_customers": message.to_customers,
        "to_status_page": message.to_status_page, "prepared": message.prepared,
        "version": message.version, "requires_approval": message.requires_approval, **people,
        **{name: iso(getattr(message, name)) for name in (
            "created_at", "submitted_at", "approved_at", "published_at", "discarded_at")},
        "superseded_by": message.superseded_by_id,
        "deliveries": [{"customer": d.name, "status": d.status, "attempts": d.attempts,
                        "finished_at": iso(d.finished_at)}
                       for d in message.deliveries.all()],
    }


def part(incident) -> Part:
    messages = list(CustomerMessage.objects.filter(incident=incident)
                    .select_related("author", "submitted_by", "approved_by", "published_by",
                                    "discarded_by")
                    .prefetch_related("deliveries").order_by("created_at", "id"))
    return Part([message_data(m) for m in messages],
                [("comms.customermessage", str(m.pk)) for m in messages])
