"""Relay settings: one module, every deployment value read from the environment.

With no environment at all Relay runs locally on SQLite with django-q2's ORM broker. Production
sets DATABASE_URL (PostgreSQL), SECRET_KEY, ALLOWED_HOSTS and usually REDIS_URL; see README.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_networks, env_pairs, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "django-insecure-relay-local-development-only"
SECRET_KEY = env_str("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it in the environment (DEBUG=1 allows a development key)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Public base URL used in links that leave the portal (emails, webhooks).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",  # Django's own widget templates, for the project-wide FORM_RENDERER
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_q",
    "csp",
    "axes",
    "accounts",
    "oncall",
    "incidents",
    "comms",
    "postmortems",
]

MIDDLEWARE = [
    "config.middleware.ServerTimingMiddleware",
    # Above every middleware that may use the database: 503 + Retry-After while it is down.
    "config.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Where audit-log entries come from: portal, API or admin, and the client's address.
    "incidents.audit.AuditOriginMiddleware",
    "accounts.timezones.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so it sees the login view's response and can turn a lockout into our own page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

FORM_RENDERER = "config.forms.PortalFormRenderer"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.csp_nonce",
                "accounts.timezones.context",
                "config.menu.navigation",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# Without DATABASE_URL: embedded SQLite next to the code (local use and the SQLite test run).
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'relay.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE avoids lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif env_bool("DB_PREPARED_STATEMENTS", True):
    # Only config.db.hot_cursor's statements bind on the server and so can be prepared; the ORM's
    # bind on the client. Off for a connection pooler in transaction mode (see config/db.py).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = env_str("REDIS_URL")

# `default` holds intake's per-integration rate counts. With REDIS_URL it is Redis, so every web
# process counts against one limit (KEY_PREFIX keeps deployments sharing a Redis apart; short
# socket timeouts because intake lets requests through uncounted when Redis does not answer).
# Without it, per process: right for the embedded default, one `manage.py serve` process.
# `timeline` stays per process: it holds rendered timeline entries, which never change.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "relay"},
    "timeline": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "timeline",
        "OPTIONS": {"MAX_ENTRIES": env_int("RELAY_TIMELINE_CACHE_ENTRIES", 20000, minimum=0)},
    },
}
if _redis_url:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis_url,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "relay"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }

# Single sign-on over OpenID Connect (accounts/sso.py): off unless the issuer and the client are
# set. Endpoints and keys come from the issuer's discovery document, fetched on first use.
OIDC_ISSUER = (env_str("OIDC_ISSUER") or "").rstrip("/")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile groups")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
# IdP group → Relay role group / team (name or slug); a group may be named more than once.
OIDC_GROUP_ROLES = env_pairs("OIDC_GROUP_ROLES")
OIDC_GROUP_TEAMS = env_pairs("OIDC_GROUP_TEAMS")
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10, minimum=1)
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_TOKEN_USE_BASIC_AUTH = True  # client_secret_basic, the default a provider registers
OIDC_STORE_ID_TOKEN = True  # the hint for signing out at the provider too
SSO_ENABLED = bool(OIDC_ISSUER and OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET)
if OIDC_ISSUER and not SSO_ENABLED:
    raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too.")
# LOCAL_PASSWORDS=off: people sign in only through the identity provider (API tokens still work).
LOCAL_PASSWORDS = env_bool("LOCAL_PASSWORDS", True)
if not LOCAL_PASSWORDS and not SSO_ENABLED:
    raise ImproperlyConfigured(
        "LOCAL_PASSWORDS=off needs single sign-on: set OIDC_ISSUER, OIDC_CLIENT_ID and "
        "OIDC_CLIENT_SECRET, or nobody could sign in.")

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked account or address before any password is checked.
    "axes.backends.AxesBackend",
    *(["django.contrib.auth.backends.ModelBackend"] if LOCAL_PASSWORDS else []),
    # A ModelBackend too, so with passwords off group permissions still come from here.
    *(["accounts.sso.OIDCBackend"] if SSO_ENABLED else []),
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous users see nothing.
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes) on the portal and admin logins. Account and address lock
# separately: guessing one account from many addresses, or many accounts from one address, both
# trip. Attempts live in the database, so every web process shares them; a failure while locked
# restarts the cool-off, so the page can say exactly how long to wait. Unlock: delete the access
# attempts in the admin, or `manage.py axes_reset_username <name>` / `axes_reset`.
RELAY_LOGIN_FAILURE_LIMIT = env_int("RELAY_LOGIN_FAILURE_LIMIT", 10, minimum=1)
RELAY_LOGIN_COOLOFF_MINUTES = env_int("RELAY_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = RELAY_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=RELAY_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.login_throttle.lockout_response"
AXES_WHITELIST_CALLABLE = "config.login_throttle.not_a_password_guess"
# Behind N reverse proxies that each append to X-Forwarded-For, the client is the Nth address
# from the right (addresses further left are the client's own claims). 0: REMOTE_ADDR itself.
# Without it, every client behind a proxy shares the proxy's address and one lock.
RELAY_TRUSTED_PROXIES = env_int("RELAY_TRUSTED_PROXIES", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "config.login_throttle.client_address"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
# Tests: a serialized rollback restores every app's rows but these two. A flush re-creates
# content types and permissions in app order, with other ids than the migrations gave them, and
# restoring the old rows over them would collide; the test helpers re-create the role groups.
TEST_NON_SERIALIZED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env_str(
            "STATICFILES_STORAGE",
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Secure by default when DEBUG is off; behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1.
_secure = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _secure)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _secure)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _secure)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _secure else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _secure)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _secure)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": [SELF, NONCE],
        # Swagger UI and the admin set inline style attributes; scripts stay nonce-only.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Relay <relay@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# django-q2: ORM broker by default (at-least-once); Redis when REDIS_URL is set (at-most-once,
# so durable state always lives in our own tables and tasks are only triggers).
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "relay"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": 60,
    "retry": 90,
    "max_attempts": 5,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Tasks",
}
if _redis_url:
    Q_CLUSTER["redis"] = _redis_url
else:
    Q_CLUSTER["orm"] = "default"
Q_CLUSTER["sync"] = env_bool("Q_SYNC", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only, read strictly: what PostgreSQL would refuse is a 400 here, not a 500 later.
    "DEFAULT_PARSER_CLASSES": ["config.api_input.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.RelayAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Relay API",
    "DESCRIPTION": "Incidents, timelines, on-call and alert intake. Token auth: "
    "`Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets behind fields named "kind": the timeline's keeps the name it always had.
    "ENUM_NAME_OVERRIDES": {"KindEnum": "incidents.models.EntryKind",
                            "ActionItemKindEnum": "postmortems.models.ItemKind"},
    # Alert intake endpoints are plain Django views; this hook documents them.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "incidents.intake.openapi.add_intake_paths",
    ],
}

# Every handler redacts secrets carried in URLs and headers (config/log_filters.py). Django's
# own default handlers (on `django` and `django.server`) would print unredacted copies, so those
# loggers are named here, which replaces their handlers with ours.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "config.log_filters.RedactSecrets"},
                "drop_unavailable": {"()": "config.unavailable.DropUnavailableTraceback"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                             "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": ["console"], "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # A database outage is logged once by config.unavailable, not as a traceback a request.
        "django.request": {"filters": ["drop_unavailable"]},
    },
}

# Tamper evidence that survives the database's owner (incidents/signing.py, checkpoints.py).
# The Ed25519 key that signs entries and checkpoints is never in the database: RELAY_SIGNING_KEY
# (base64 of the 32-byte seed, or PEM) or RELAY_SIGNING_KEY_FILE; without either, a key file is
# created next to the code on first use (embedded default only; `check --deploy` warns).
RELAY_SIGNING_KEY = env_str("RELAY_SIGNING_KEY", "")
RELAY_SIGNING_KEY_FILE_CONFIGURED = bool(env_str("RELAY_SIGNING_KEY_FILE"))
RELAY_SIGNING_KEY_FILE = Path(env_str("RELAY_SIGNING_KEY_FILE") or BASE_DIR / ".relay-signing.key")
# Public keys (base64) still trusted for verification after a key rotation.
RELAY_SIGNING_TRUSTED_KEYS = env_list("RELAY_SIGNING_TRUSTED_KEYS", [])
# Checkpoints of every chain's head are written here, append-only (one new file each time), and
# optionally POSTed to a witness the database's owner does not control.
RELAY_CHECKPOINT_DIR = Path(env_str("RELAY_CHECKPOINT_DIR") or BASE_DIR / "checkpoints")
RELAY_CHECKPOINT_WITNESS_URL = env_str("RELAY_CHECKPOINT_WITNESS_URL", "")
# How often the scheduled checkpoint runs: RELAY_CHECKPOINT_MINUTES (config/schedules.py).

RELAY_INCIDENTS_PER_PAGE = 25
RELAY_TIMELINE_POLL_SECONDS = env_int("RELAY_TIMELINE_POLL_SECONDS", 3, minimum=1)
RELAY_DASHBOARD_POLL_SECONDS = env_int("RELAY_DASHBOARD_POLL_SECONDS", 15, minimum=1)

# On-call paging. Webhook and SMS-gateway requests give up after this many seconds; the SMS/voice
# gateway relays to the carrier (empty: SMS and voice methods fail and are reported).
RELAY_WEBHOOK_TIMEOUT = env_int("RELAY_WEBHOOK_TIMEOUT", 10, minimum=1)
RELAY_SMS_GATEWAY_URL = env_str("RELAY_SMS_GATEWAY_URL", "")
# Webhooks, Slack-style pages and the SMS gateway never reach private, loopback or link-local
# addresses (config/outbound.py), except inside these comma-separated CIDR ranges, for example an
# internal gateway: RELAY_OUTBOUND_ALLOW=10.20.0.0/16. Empty by default.
RELAY_OUTBOUND_ALLOW = env_networks("RELAY_OUTBOUND_ALLOW")
# Outbox claims (config/outbox.py): a claim older than this many seconds belongs to a worker that
# died mid-send, and the row is sent again. Pages are urgent (a repeat beats silence); a webhook
# POST or an email may take longer before it counts as lost.
RELAY_PAGE_CLAIM_STALE_SECONDS = env_int("RELAY_PAGE_CLAIM_STALE_SECONDS", 20, minimum=1)
RELAY_WEBHOOK_CLAIM_STALE_SECONDS = env_int("RELAY_WEBHOOK_CLAIM_STALE_SECONDS", 300, minimum=1)
RELAY_HANDOFF_CLAIM_STALE_SECONDS = env_int("RELAY_HANDOFF_CLAIM_STALE_SECONDS", 120, minimum=1)
# Customer messages (comms.messages): how often an incident's customers hear from us by default,
# in minutes per severity (0: no cadence); the communications lead may set another per incident.
# Override one with e.g. RELAY_UPDATE_CADENCE_P2_MINUTES=60.
RELAY_UPDATE_CADENCE_MINUTES = {
    sev: env_int(f"RELAY_UPDATE_CADENCE_{sev}_MINUTES", minutes, minimum=0)
    for sev, minutes in (("P1", 30), ("P2", 120), ("P3", 240), ("P4", 0))
}
# A customer email's claim older than this belongs to a worker that died mid-send.
RELAY_MESSAGE_CLAIM_STALE_SECONDS = env_int("RELAY_MESSAGE_CLAIM_STALE_SECONDS", 300, minimum=1)
# Acknowledge/resolve links in pages stop working after this many hours.
RELAY_PAGE_LINK_HOURS = env_int("RELAY_PAGE_LINK_HOURS", 24, minimum=1)
# Shared secret the mail system sends (Authorization: Bearer …) when it posts a reply to a page
# email to /oncall/email/reply/; empty turns the endpoint off (manage.py ingest_reply still works).
RELAY_INBOUND_EMAIL_SECRET = env_str("RELAY_INBOUND_EMAIL_SECRET", "")

# Post-mortems (postmortems): the response's estimated cost is responder-hours from the record ×
# this hourly rate × the weight of each person's role (the commander's time costs more: it holds
# everyone else's). Override with e.g. RELAY_RESPONSE_HOURLY_RATE=150.
RELAY_RESPONSE_HOURLY_RATE = env_int("RELAY_RESPONSE_HOURLY_RATE", 100, minimum=0)
RELAY_RESPONSE_CURRENCY = env_str("RELAY_RESPONSE_CURRENCY", "USD")
RELAY_RESPONSE_ROLE_WEIGHTS = {"commander": 1.5, "comms_lead": 1.25, "responder": 1.0}
# Action items are due this many days after they are created, by the incident's severity, and
# their owner is reminded this many days before and on the due date.
RELAY_ACTION_ITEM_DUE_DAYS = {
    sev: env_int(f"RELAY_ACTION_ITEM_{sev}_DAYS", days, minimum=1)
    for sev, days in (("P1", 14), ("P2", 30), ("P3", 60), ("P4", 90))
}
RELAY_ACTION_ITEM_REMIND_DAYS = env_int("RELAY_ACTION_ITEM_REMIND_DAYS", 3, minimum=1)
# Insights count pages outside working hours and in sleeping hours in this time zone.
RELAY_WORKING_HOURS_TZ = env_str("RELAY_WORKING_HOURS_TZ", "UTC")
RELAY_WORKING_HOURS = (9, 18)  # Monday to Friday, [start, end) local hours
RELAY_SLEEP_HOURS = (22, 7)  # [start, end) local hours, every day
