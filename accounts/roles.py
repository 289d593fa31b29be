"""The role groups and what each may do, declared once.

`sync_role_groups` makes the database match this table by adding what is missing; data
migrations call it (accounts 0002, and any later one that follows a change here, depending on
the migrations that create the models it names) and so does the test suite after a flush.
tests/accounts/test_roles.py checks a migrated database holds exactly this table.
"""

from typing import NamedTuple

from django.contrib.auth.management import create_permissions
from django.db.models import Q

ACTIONS = ("add", "change", "delete", "view")

# Models every role reads.
INCIDENT_MODELS = ["incident", "timelineentry", "service", "customertier"]
INTAKE_MODELS = ["alert", "changeevent", "integration", "alertrule", "maintenancewindow",
                 "heartbeat", "webhooksubscription", "webhookdelivery"]
ONCALL_MODELS = ["team", "schedule", "layer", "layermember", "override", "swap",
                 "escalationpolicy", "escalationstep"]
# Responders manage intake (the service and its integrations, rules, windows, heartbeats and
# outgoing webhooks), not only incidents.
MANAGED_INTAKE = ["service", "integration", "alertrule", "maintenancewindow", "heartbeat",
                  "webhooksubscription"]
# Everything Admins manage in the Django admin.
ALL_INCIDENTS = [*INCIDENT_MODELS, *INTAKE_MODELS, "escalationrun", "page",
                 "incidentgroupobjectpermission", "incidentuserobjectpermission"]
ALL_ONCALL = [*ONCALL_MODELS, "contactmethod", "notificationrule", "calendarfeed",
              "handoffnotice"]
# Customer communications: customers, SLA policies and clocks, customer messages.
CUSTOMER_MODELS = ["customer", "customercontact", "contracttarget"]
SLA_MODELS = ["businesscalendar", "holiday", "tierpolicy", "slatarget", "slaclock", "clockpause"]
MESSAGE_MODELS = ["customermessage", "messagedelivery", "messagetemplate", "updatecadence"]
# The status page: what staff read (the internal status page) and what Communications manage.
STATUS_MODELS = ["statuspage", "componentgroup", "component", "componentchange", "maintenance",
                 "maintenanceupdate", "publicincident"]
MANAGED_STATUS = ["componentgroup", "component", "maintenance", "maintenanceupdate"]
# Subscribers hold customers' addresses: not for every role.
SUBSCRIBER_MODELS = ["subscriber", "subscribernotice"]
ALL_COMMS = [*CUSTOMER_MODELS, *SLA_MODELS, *MESSAGE_MODELS, *STATUS_MODELS, *SUBSCRIBER_MODELS]
EVERYONE_COMMS = [*CUSTOMER_MODELS, *SLA_MODELS, *MESSAGE_MODELS, *STATUS_MODELS]
# Post-mortems, their reviews and revisions, and action items: everyone reads them (of the
# incidents they may see); Responders write them.
POSTMORTEM_MODELS = ["postmortem", "review", "revision", "actionitem"]
MANAGED_POSTMORTEM = ["postmortem", "actionitem"]


def perms(app: str, models, actions=ACTIONS) -> list[str]:
    return [f"{app}.{action}_{model}" for model in models for action in actions]


def view(app: str, models) -> list[str]:
    return perms(app, models, ("view",))


# The audit log (who changed what, from where): read by Auditors and Admins only; nobody writes
# it but incidents.audit.log().
AUDIT_LOG = "incidents.view_auditentry"

EVERYONE = [*view("incidents", INCIDENT_MODELS + INTAKE_MODELS), *view("oncall", ONCALL_MODELS),
            *view("comms", EVERYONE_COMMS), *view("postmortems", POSTMORTEM_MODELS)]


class Role(NamedTuple):
    can: str
    permissions: frozenset[str]


ROLES = {
    "Responders": Role(
        "Declare, update and acknowledge incidents; manage services, integrations, alert rules, "
        "maintenance windows, heartbeats and outgoing webhooks; take overrides and swaps; write "
        "post-mortems and their action items.",
        frozenset([*EVERYONE, *perms("incidents", ["incident", *MANAGED_INTAKE], ("add", "change")),
                   "oncall.add_override", "oncall.add_swap", "oncall.change_swap",
                   # Propose a customer message (never publish one); pause a clock.
                   "comms.add_customermessage", "comms.add_clockpause",
                   # Write post-mortems and their action items.
                   *perms("postmortems", MANAGED_POSTMORTEM, ("add", "change"))]),
    ),
    "Communications": Role(
        "Report customer issues; manage customers, their contacts and contracts; draft, approve "
        "and publish customer messages and set their cadence; pause SLA clocks; run the status "
        "page (branding, components, maintenance, subscribers).",
        frozenset([*EVERYONE, "comms.report_issue",
                   *perms("comms", CUSTOMER_MODELS, ("add", "change", "delete")),
                   *perms("comms", ["customermessage", "updatecadence", "clockpause"],
                          ("add", "change")),
                   "comms.publish_customermessage", "comms.change_messagetemplate",
                   *perms("comms", MANAGED_STATUS, ("add", "change", "delete")),
                   "comms.change_statuspage",
                   *perms("comms", ["subscriber"], ("view", "delete")),
                   *view("comms", ["subscribernotice"])]),
    ),
    "Auditors": Role(
        "Read everything, restricted incidents, pages, contact methods and API tokens included; "
        "change nothing.",
        frozenset([*EVERYONE, "incidents.view_all_restricted",
                   *view("incidents", ["escalationrun", "page"]),
                   *view("oncall", ["contactmethod", "notificationrule", "calendarfeed"]),
                   *view("comms", SUBSCRIBER_MODELS), "accounts.view_apitoken",
                   AUDIT_LOG]),
    ),
    "Admins": Role(
        "Everything in the Django admin: incidents, intake, on-call, API tokens, users and groups.",
        frozenset([*perms("incidents", ALL_INCIDENTS), "incidents.view_all_restricted",
                   "incidents.correct_milestones", *perms("oncall", ALL_ONCALL),
                   *perms("comms", ALL_COMMS), "comms.publish_customermessage",
                   "comms.report_issue", *perms("postmortems", POSTMORTEM_MODELS),
                   *perms("accounts", ["apitoken"]), *perms("auth", ["user", "group"]),
                   AUDIT_LOG]),
    ),
}

# Apps whose permissions the table names; their permissions must exist before they are granted.
APPS = ("auth", "contenttypes", "accounts", "oncall", "incidents", "comms", "postmortems")


def sync_role_groups(apps) -> None:
    """Create missing groups and grant missing permissions; never removes anything, so running it
    again changes nothing. `apps` is a migration's historical registry or django.apps.apps."""
    for label in APPS:
        _create_permissions(apps, label)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, role in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*_existing(Permission, role.permissions))


def _create_permissions(apps, label: str) -> None:
    config = apps.get_app_config(label)
    # Historical app configs have no models module, and create_permissions skips those.
    if getattr(config, "models_module", None) is None:
        config.models_module = True
    create_permissions(config, verbosity=0, apps=apps)


def _existing(Permission, names):
    """The permissions of these "app_label.codename" names that exist. One named for a model a
    later migration creates is granted by the migration that follows it; the test of the table
    against a migrated database catches a name that never comes to exist."""
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(query)
