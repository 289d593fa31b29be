"""Who may see and change on-call data. Views ask only this module."""

VIEW = "oncall.view_schedule"
OVERRIDE = "oncall.add_override"


def can_view(user) -> bool:
    return user.is_authenticated and user.is_active and user.has_perm(VIEW)


def can_override(user) -> bool:
    """Create overrides and take swaps: responders and admins, never auditors."""
    return can_view(user) and user.has_perm(OVERRIDE)
