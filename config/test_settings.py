"""Settings for the test suite: production settings with the test run's environment filled in.

Tests talk to whatever DATABASE_URL names (PostgreSQL in CI) or SQLite without it.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "relay-test-suite-only")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
# Tests send webhooks and pages to receivers on loopback; tests of the refusal override this.
os.environ.setdefault("RELAY_OUTBOUND_ALLOW", "127.0.0.0/8,::1/128")
# A fixed key for the suite (never used elsewhere); checkpoints go to a fresh directory per run,
# and tests that look at them point RELAY_CHECKPOINT_DIR at their own tmp_path.
os.environ.setdefault("RELAY_SIGNING_KEY", "cmVsYXktdGVzdC1zdWl0ZS1zaWduaW5nLWtleS0zMmI=")
os.environ.setdefault("RELAY_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="relay-checkpoints-"))
os.environ.setdefault(
    "STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage"
)

from config.settings import *  # noqa: E402,F403
from config.settings import CACHES, DATABASES, Q_CLUSTER  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_USE_FINDERS = True
Q_CLUSTER["sync"] = True
# Per process even with REDIS_URL set: tests clear the cache between them, which on Redis would
# flush a database other programs use. Tests of the shared count start their own servers.
CACHES["default"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                     "LOCATION": "relay"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not SQLite's in-memory database: that one is shared between the live server's
    # threads and the test through shared-cache mode, whose table locks fail at once ("database
    # table is locked") where a file in WAL mode lets readers read and writers wait their turn.
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME") or os.path.join(
        tempfile.gettempdir(), f"relay-test-{os.getpid()}.sqlite3")}
# Tests serve static files through the finders; there is no collectstatic output to point at.
STATIC_ROOT = None
