"""gunicorn settings for `manage.py serve`: one process, threads, a deep listen backlog.

A storm of alert senders connects at once; runserver's backlog refused them. Threads rather than
processes keep the per-process state the embedded default relies on (intake rate counts, key cache)
in one place. Access and error lines go to stdout/stderr through the same redaction as Django's
logs: access lines carry page-action and calendar tokens and integration keys in their URLs.
"""

from gunicorn.glogging import Logger

from config.env import env_int
from config.log_filters import RedactSecrets

wsgi_app = "config.wsgi:application"
workers = env_int("WEB_WORKERS", 1, minimum=1)
threads = env_int("WEB_THREADS", 8, minimum=1)
backlog = 2048
accesslog = "-"
errorlog = "-"
# Idle keep-alive connections live longer than the incident page's 3 s timeline poll, so a
# browser's polls reuse one connection; with gunicorn's default (2 s) a loaded worker closed
# connections whose next request was already on its way (connection reset, bench/web.py).
keepalive = 5
# Ctrl-C should not wait long for a slow client; requests are short.
graceful_timeout = 10
# gunicorn 24+ opens a control socket at one path per user; a second instance (tests, a second
# checkout) would fight over it, and nothing here uses it.
control_socket_disable = True


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                # setup() runs again on a reload (HUP) with fresh handlers; never stack filters.
                if not any(isinstance(f, RedactSecrets) for f in handler.filters):
                    handler.addFilter(RedactSecrets())


logger_class = RedactingLogger
