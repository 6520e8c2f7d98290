"""Gunicorn settings: ``gunicorn -c config/gunicorn.conf.py wsgi:app``.

The access log never names the client: no address, no user agent, no time. Requests on the
anonymous side are not logged at all (as in SecureDrop); staff-side requests are logged as
method, path and status only.
"""

import logging
import os

from gunicorn.glogging import Logger

bind = os.environ.get("SPEAKUP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SPEAKUP_WORKERS", "2"))
threads = int(os.environ.get("SPEAKUP_THREADS", "4"))
timeout = 60
accesslog = "-"
errorlog = "-"
access_log_format = '"%(m)s %(U)s" %(s)s'
# Forwarded headers from the proxy are not trusted for anything, and never logged.
forwarded_allow_ips = ""
proxy_allow_ips = ""


class ScrubbedLogger(Logger):
    """Drops access-log lines for the anonymous side and keeps the others address-free."""

    def access(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        # The staff app is mounted under /staff, which moves that prefix to SCRIPT_NAME.
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if not path.startswith("/staff"):
            return
        super().access(resp, req, environ, request_time)

    def warning(self, msg, *args, **kwargs):  # type: ignore[no-untyped-def]
        # gunicorn reports malformed requests as "Invalid request from ip=ADDRESS: ...": keep
        # the kind of problem, never the address.
        if isinstance(msg, str) and "from ip=" in msg:
            msg = msg.split(" from ip=", 1)[0] + " (address not logged)"
        super().warning(msg, *args, **kwargs)

    def setup(self, cfg):  # type: ignore[no-untyped-def]
        super().setup(cfg)
        # Error-log lines without timestamps: the anonymous side must leave no timing trail.
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))


logger_class = ScrubbedLogger
control_socket_disable = True
