"""The audit log (incidents/audit.py) for the apps below incidents. accounts and oncall know
nothing of incidents, so they reach its log() and snapshot() by dotted path, as config already
names the entry points above it (recurring schedules, middleware). Same signatures as there."""

from django.utils.module_loading import import_string

LOG = "incidents.audit.log"
SNAPSHOT = "incidents.audit.snapshot"
ORIGIN = "incidents.audit.origin"
COMMAND = "command"  # incidents.models.AuditSource.COMMAND


def log(action: str, obj=None, **details):
    return import_string(LOG)(action, obj, **details)


def snapshot(obj, fields=None, secrets=()) -> dict:
    return import_string(SNAPSHOT)(obj, fields, secrets)


def command_origin():
    """A context manager: what is logged inside comes from a management command."""
    return import_string(ORIGIN)(COMMAND)
