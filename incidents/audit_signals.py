"""The audit log of what has no service function of ours: users (Django's, changed in the admin),
their groups (role groups and team membership), API tokens (accounts, below incidents, cannot
call incidents.audit itself), and sign-ins. Receivers only log; connected in IncidentsConfig.

Passwords, tokens and their hashes are never logged, only the news that a password changed.
"""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out, user_login_failed
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from accounts.models import ApiToken
from incidents import audit

User = get_user_model()

# last_login is not a change of the account (sign-ins have their own entries); groups and
# permissions are logged from m2m_changed, with names rather than ids.
USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active", "is_staff",
               "is_superuser", "password")
USER_SECRETS = ("password",)
# Never the token nor its hash, nor the prefix that is a piece of the token.
TOKEN_FIELDS = ("user", "name", "revoked")
STORED = "_audit_stored"


def _remember_stored(sender, instance, raw=False, update_fields=None, **kwargs):
    """Before a save: the row as the database holds it, to compare with after the save."""
    skip = raw or instance.pk is None or (update_fields and set(update_fields) == {"last_login"})
    setattr(instance, STORED, None if skip else
            sender._default_manager.filter(pk=instance.pk).first())


def _user_saved(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    old = None if created else instance.__dict__.pop(STORED, None)
    if old is None and not created:
        return  # a last_login-only save
    audit.log("user.create" if created else "user.update", instance,
              before=audit.snapshot(old, USER_FIELDS, USER_SECRETS) if old else None,
              after=audit.snapshot(instance, USER_FIELDS, USER_SECRETS),
              secrets_changed=["password"] if _password_changed(old, instance) else [])


def _password_changed(old, new) -> bool:
    return old.password != new.password if old else new.has_usable_password()


def _user_deleted(sender, instance, **kwargs):
    audit.log("user.delete", instance, before=audit.snapshot(instance, USER_FIELDS, USER_SECRETS),
              after=None)


def _token_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    old = None if created else instance.__dict__.pop(STORED, None)
    if old is None and not created:
        return
    verb = "create" if created else ("revoke" if instance.revoked and not old.revoked
                                     else "update")
    audit.log(f"api_token.{verb}", instance, object_repr=_token_repr(instance),
              before=audit.snapshot(old, TOKEN_FIELDS) if old else None,
              after=audit.snapshot(instance, TOKEN_FIELDS))


def _token_deleted(sender, instance, **kwargs):
    audit.log("api_token.delete", instance, object_repr=_token_repr(instance),
              before=audit.snapshot(instance, TOKEN_FIELDS), after=None)


def _token_repr(token: ApiToken) -> str:
    return f"{token.name} of {token.user.get_username()}"


# --- groups and permissions of users ------------------------------------------------------------

def _group_names(user_id) -> list[str]:
    return sorted(Group.objects.filter(user__pk=user_id).values_list("name", flat=True))


def _permission_names(user_id) -> list[str]:
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.filter(
        user__pk=user_id).select_related("content_type"))


# through model: (action, key in before/after, the User field, names of one user's rows)
M2M = {
    User.groups.through: ("user.groups", "groups", "groups", _group_names),
    User.user_permissions.through: ("user.permissions", "permissions", "user_permissions",
                                    _permission_names),
}
M2M_BEFORE = "_audit_m2m_before"


def _m2m_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """Either side may change (user.groups.add(g) or group.user_set.add(u)): one entry per user
    whose list changed, with the names before and after."""
    action_name, key, field, names_of = M2M[sender]
    if action.startswith("pre_"):
        if reverse:
            user_ids = pk_set if pk_set is not None else set(
                User._default_manager.filter(**{field: instance}).values_list("pk", flat=True))
        else:
            user_ids = {instance.pk}
        befores = getattr(instance, M2M_BEFORE, {})
        befores[sender] = {pk: names_of(pk) for pk in user_ids}
        setattr(instance, M2M_BEFORE, befores)
        return
    befores = getattr(instance, M2M_BEFORE, {}).pop(sender, {})
    users = {u.pk: u for u in User._default_manager.filter(pk__in=befores)}
    for pk, before in befores.items():
        if pk in users:
            audit.log(action_name, users[pk], before={key: before}, after={key: names_of(pk)})


# --- sign-ins -------------------------------------------------------------------------------------


def _logged_in(sender, request, user, **kwargs):
    audit.log("user.login", user, actor=user, object_repr=user.get_username())


def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.log("user.logout", user, actor=user, object_repr=user.get_username())


def _login_failed(sender, credentials, request=None, **kwargs):
    """The name that was tried (never the password, which Django has masked here anyway)."""
    tried = str(credentials.get(User.USERNAME_FIELD, ""))
    audit.log("user.login_failed", object_type=User._meta.label_lower,
              object_repr=_storable(tried) or "(no username)", note="Sign-in refused.")


def _locked_out(sender, request, username, ip_address, **kwargs):
    audit.log("user.locked_out", object_type=User._meta.label_lower,
              object_repr=_storable(str(username or "")) or "(no username)",
              note="Too many failed sign-ins: this account or address is locked out for now.")


def _storable(text: str) -> str:
    # Typed by anyone: PostgreSQL refuses NUL and lone surrogates in text.
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:150]


def connect() -> None:
    for model, saved, deleted in ((User, _user_saved, _user_deleted),
                                  (ApiToken, _token_saved, _token_deleted)):
        name = model.__name__
        pre_save.connect(_remember_stored, sender=model, dispatch_uid=f"relay_audit_pre_{name}")
        post_save.connect(saved, sender=model, dispatch_uid=f"relay_audit_save_{name}")
        post_delete.connect(deleted, sender=model, dispatch_uid=f"relay_audit_delete_{name}")
    for through in M2M:
        m2m_changed.connect(_m2m_changed, sender=through,
                            dispatch_uid=f"relay_audit_m2m_{through.__name__}")
    user_logged_in.connect(_logged_in, dispatch_uid="relay_audit_login")
    user_logged_out.connect(_logged_out, dispatch_uid="relay_audit_logout")
    user_login_failed.connect(_login_failed, dispatch_uid="relay_audit_login_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="relay_audit_locked_out")
