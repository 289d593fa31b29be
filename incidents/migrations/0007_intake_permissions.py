"""Who may see and manage alert intake: every role sees alerts and changes; responders manage
services, integrations, rules, maintenance windows, heartbeats and webhooks; admins get all."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = ["alert", "changeevent", "integration", "alertrule", "maintenancewindow", "heartbeat",
        "webhooksubscription", "webhookdelivery"]
MANAGE = ["service", "integration", "alertrule", "maintenancewindow", "heartbeat",
          "webhooksubscription"]


def grant(apps, schema_editor):
    config = apps.get_app_config("incidents")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps)
    assign(apps)


def assign(apps):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label="incidents")
    views = ours.filter(codename__in=[f"view_{m}" for m in VIEW])
    manage = ours.filter(codename__in=[f"{a}_{m}" for m in MANAGE for a in ("add", "change")])
    for name in ("Responders", "Communications", "Auditors"):
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.add(*views)
    responders = Group.objects.filter(name="Responders").first()
    if responders:
        responders.permissions.add(*manage)
    admins = Group.objects.filter(name="Admins").first()
    if admins:
        admins.permissions.add(*ours)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_alert_intake")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
