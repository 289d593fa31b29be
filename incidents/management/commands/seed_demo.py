from datetime import date, time, timedelta
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from incidents import services
from incidents.intake import keys as intake_keys
from incidents.intake import pipeline
from incidents.intake import services as intake_services
from incidents.intake.formats import pagerduty
from incidents.models import (
    AlertRule,
    CustomerTier,
    Incident,
    Integration,
    IntegrationFormat,
    MatchField,
    MatchOperator,
    RuleAction,
    Service,
    Status,
)
from oncall.models import (
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Layer,
    LayerMember,
    Schedule,
    Team,
)

# username → (password, role groups, staff/superuser): demo credentials, printed on every run.
PEOPLE = {
    "commander": ("relay-commander", ["Responders"], False),
    "responder": ("relay-responder", ["Responders"], False),
    "csm": ("relay-csm", ["Communications"], False),
    "auditor": ("relay-auditor", ["Auditors"], False),
    "admin": ("relay-admin", ["Admins"], True),
}
TEAMS = {"payments": "Payments", "platform": "Platform", "identity": "Identity"}
SERVICES = [
    ("checkout-api", "Checkout API", "payments", "Takes orders and payments from the web shop."),
    ("payment-gateway", "Payment Gateway", "payments", "Talks to card processors."),
    ("search", "Search", "platform", "Product search and autocomplete."),
    ("postgres-primary", "Primary database", "platform", "The main PostgreSQL cluster."),
    ("auth", "Auth Service", "identity", "Login, SSO and sessions."),
]
TIERS = [("enterprise", "Enterprise", 1), ("business", "Business", 2), ("free", "Free", 3)]


class Command(BaseCommand):
    help = (
        "Load demo teams, services, customer tiers, one user per role and incidents with history."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (never on a production database).",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with known passwords; it runs only with "
                "DEBUG=1 (or --force on a throw-away database)."
            )
        with transaction.atomic():
            users = self._people()
            teams = self._teams(users)
            svc = self._services(teams)
            self._oncall(users, teams)
            tiers = self._tiers()
            created = self._incidents(users, svc, tiers) if not Incident.objects.exists() else 0
            keys = self._intake(svc)
            # Apps built on incidents add their own demo data (comms: customers, SLA policies,
            # messages) from a `demo` module's seed(users, teams, services, tiers).
            for config in apps.get_app_configs():
                if module_has_submodule(config.module, "demo"):
                    import_module(f"{config.name}.demo").seed(users, teams, svc, tiers)
        self.stdout.write(f"Demo data ready ({created} incidents created).")
        for integration, key in keys:
            self.stdout.write(f"  {integration.get_format_display()} integration of "
                              f"{integration.service.name}: key {key} (shown once)")
        self.stdout.write(f"Log in at {settings.SITE_URL}/accounts/login/ as:")
        for username, (password, groups, _staff) in PEOPLE.items():
            self.stdout.write(f"  {username:<10} password {password:<16} ({', '.join(groups)})")

    def _people(self):
        users = {}
        for username, (password, groups, staff) in PEOPLE.items():
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.set_password(password)
            user.is_staff = user.is_superuser = staff
            user.save()
            user.groups.add(*Group.objects.filter(name__in=groups))
            users[username] = user
        return users

    def _teams(self, users):
        teams = {}
        for slug, name in TEAMS.items():
            group, _ = Group.objects.get_or_create(name=f"team:{slug}")
            teams[slug], _ = Team.objects.get_or_create(
                slug=slug, defaults={"name": name, "group": group, "lead": users["commander"]}
            )
        teams["payments"].group.user_set.add(users["commander"], users["responder"])
        teams["platform"].group.user_set.add(users["responder"])
        return teams

    def _services(self, teams):
        return {
            slug: Service.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "team": teams[team],
                    "description": description,
                    "runbook_url": f"https://runbooks.example.com/{slug}",
                },
            )[0]
            for slug, name, team, description in SERVICES
        }

    def _intake(self, svc):
        """Two integrations, a severity rule and alerts sent through the real pipeline: repeats
        count on one alert, and a second alert groups into the same incident."""
        if Integration.objects.exists():
            return []
        intake_services.save_rule(
            by=None, rule=AlertRule(), name="Database down is P1", position=10,
            match_field=MatchField.SUMMARY, operator=MatchOperator.CONTAINS,
            value="database down", action=RuleAction.SEVERITY, severity="P1")
        keys = [intake_services.create_integration(by=None, service=svc[slug], format=fmt)
                for slug, fmt in (
            ("postgres-primary", IntegrationFormat.ALERTMANAGER),
            ("payment-gateway", IntegrationFormat.PAGERDUTY),
        )]
        ref = intake_keys.find_integration(keys[1][1])
        for dedup_key, summary in (("gw-timeouts", "Card processor timeouts above 5%"),
                                   ("gw-timeouts", "Card processor timeouts above 5%"),
                                   ("gw-3ds", "3-D Secure callbacks failing")):
            pipeline.ingest(ref, pagerduty.parse({
                "routing_key": keys[1][1], "event_action": "trigger", "dedup_key": dedup_key,
                "payload": {"summary": summary, "source": "gateway-prod-1",
                            "severity": "critical", "custom_details": {"region": "eu-west-1"}},
            }))
        return keys

    def _oncall(self, users, teams):
        """A weekly rota and a two-step policy for Payments, so its incidents page someone."""
        cmd, resp = users["commander"], users["responder"]
        for user in (cmd, resp):
            ContactMethod.objects.get_or_create(user=user, kind="email", address=user.email)
        schedule, created = Schedule.objects.get_or_create(
            name="Payments primary",
            defaults={"team": teams["payments"], "time_zone": "Europe/Berlin"})
        if created:
            layer = Layer.objects.create(schedule=schedule, name="Weekly", turn_unit="weeks",
                                         start_date=date(2026, 1, 5), handoff_time=time(9))
            for position, user in enumerate((cmd, resp)):
                LayerMember.objects.create(layer=layer, user=user, position=position)
        policy, created = EscalationPolicy.objects.get_or_create(
            name="Payments", defaults={"team": teams["payments"], "repeat": 1})
        if created:
            EscalationStep.objects.create(policy=policy, position=0).schedules.add(schedule)
            EscalationStep.objects.create(policy=policy, position=1,
                                          delay_minutes=10).users.add(cmd)
        Service.objects.filter(team=teams["payments"], escalation_policy=None).update(
            escalation_policy=policy)

    def _tiers(self):
        return {
            slug: CustomerTier.objects.get_or_create(
                slug=slug, defaults={"name": name, "rank": rank}
            )[0]
            for slug, name, rank in TIERS
        }

    def _incidents(self, users, svc, tiers):
        now = timezone.now()
        cmd, resp, csm = users["commander"], users["responder"], users["csm"]

        db = services.declare(
            title="Primary database CPU at 100%, checkout timing out",
            severity="P1",
            by=cmd,
            services=[svc["postgres-primary"], svc["checkout-api"]],
            customer_tiers=[tiers["enterprise"], tiers["business"]],
            description="Checkout p99 above 20 s since 09:12. Replica lag growing.",
            started_at=now - timedelta(minutes=42),
        )
        services.acknowledge(db, by=resp)
        services.assign_roles(db, by=cmd, commander=cmd, comms_lead=csm, responders=[resp])
        services.transition(db, to=Status.INVESTIGATING, by=resp)
        services.add_note(
            db,
            by=resp,
            text="Top query: `SELECT … FROM orders` without index "
            "on `customer_id` since deploy **v2.31**.",
        )
        services.transition(db, to=Status.IDENTIFIED, by=cmd, note="Missing index after migration.")

        search = services.declare(
            title="Search results empty for some queries",
            severity="P3",
            by=resp,
            services=[svc["search"]],
            started_at=now - timedelta(minutes=15),
        )
        services.add_note(search, by=resp, text="Only queries with accents, it seems.")

        services.declare(
            title="Login page slow for SSO customers",
            severity="P2",
            by=resp,
            services=[svc["auth"]],
            customer_tiers=[tiers["enterprise"]],
            started_at=now - timedelta(minutes=4),
        )

        gateway = services.declare(
            title="Card payments declined at one processor",
            severity="P2",
            by=cmd,
            services=[svc["payment-gateway"]],
            customer_tiers=[tiers["business"]],
            started_at=now - timedelta(hours=5),
        )
        services.acknowledge(gateway, by=cmd)
        services.assign_roles(gateway, by=cmd, commander=cmd)
        services.transition(gateway, to=Status.MONITORING, by=cmd, note="Failover to processor B.")
        services.transition(
            gateway, to=Status.RESOLVED, by=cmd, note="Processor A fixed their TLS."
        )

        dup = services.declare(
            title="Checkout 504s",
            severity="P2",
            by=resp,
            services=[svc["checkout-api"]],
            started_at=now - timedelta(minutes=30),
        )
        services.merge(dup, into=db, by=cmd, note="Same root cause.")

        noise = services.declare(
            title="Disk alert on staging box",
            severity="P4",
            by=resp,
            started_at=now - timedelta(hours=2),
        )
        services.transition(
            noise, to=Status.DECLINED, by=resp, note="Staging only, not an incident."
        )

        services.declare(
            title="Unusual admin logins from new country",
            severity="P1",
            by=cmd,
            restricted=True,
            services=[svc["auth"]],
            started_at=now - timedelta(minutes=20),
        )
        return 7
