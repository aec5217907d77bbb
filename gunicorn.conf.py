"""gunicorn settings for production (the Dockerfile and docker-compose start gunicorn with them).

- The access log goes through icbt.gunicorn_logging.RedactingLogger: no tokens from invitation,
  password-reset or confirmation links, no query strings.
- Forwarded headers (X-Forwarded-For / -Proto) are trusted only from the addresses in
  DJANGO_TRUSTED_PROXIES (the TLS proxy in front); from anyone else they are ignored, here and in
  Django (icbt.middleware.TrustedProxyMiddleware), so nobody can fake a client address in the
  audit trail by sending the header themselves.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
logger_class = "icbt.gunicorn_logging.RedactingLogger"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(L)s "%(a)s"'
forwarded_allow_ips = os.environ.get("DJANGO_TRUSTED_PROXIES", "").strip()
