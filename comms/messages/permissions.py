"""Who may do what with customer messages and the update cadence. Views compute these once for
the template; services check them again (the API and the timer call services directly)."""

from accounts.guards import has_role_perm

DRAFT = "comms.add_customermessage"
CHANGE = "comms.change_customermessage"
PUBLISH = "comms.publish_customermessage"
CADENCE = "comms.change_updatecadence"
TEMPLATES = "comms.change_messagetemplate"


def can_draft(user) -> bool:
    return has_role_perm(user, DRAFT)


def can_edit(user, message) -> bool:
    """Communications edit any open message; whoever proposed a draft edits their own."""
    return has_role_perm(user, CHANGE) or (
        has_role_perm(user, DRAFT) and message.author_id is not None
        and message.author_id == user.pk)


def can_publish(user) -> bool:
    return has_role_perm(user, PUBLISH)


def can_set_cadence(user, incident) -> bool:
    """The incident's communications lead, Communications and admins."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return incident.comms_lead_id == user.pk or has_role_perm(user, CADENCE)


def can_change_templates(user) -> bool:
    return has_role_perm(user, TEMPLATES)
