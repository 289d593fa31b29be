"""Role checks that are not about one object, shared by every app's permissions module.

A role counts only for a signed-in, active user. Inactive users cannot sign in and their tokens
are refused, so this only matters for a user object that outlives its deactivation (a command,
a task); checking here keeps every guard agreeing instead of some of them forgetting it.
"""


def has_role_perm(user, perm: str) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active
                and user.has_perm(perm))
