"""The one settings file of icbt. Behaviour differs by environment variables only.

Embedded defaults (no variables set) run the whole application on one machine with nothing
installed: SQLite, e-mails written to var/mail, Celery on Kombu's filesystem transport, caches
in files. DATABASE_URL, REDIS_URL and EMAIL_URL switch to the real services. With
DJANGO_DEBUG=false a missing secret key or master key stops start-up.
"""

import ipaddress
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from icbt.cache import redis_caches
from icbt.env import dev_master_key_file, env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ICBT_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", True)
TESTING = env_bool("ICBT_TESTING", False)

SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
# Values copied from examples and documentation: a key anyone can read signs nothing.
_PLACEHOLDER_SECRET_KEYS = {"change-me", "changeme", "change_me", "secret", "your-secret-key", "replace-me"}
if (
    SECRET_KEY
    and not DEBUG
    and (
        SECRET_KEY.strip().lower() in _PLACEHOLDER_SECRET_KEYS
        or SECRET_KEY.startswith("django-insecure")
        or len(SECRET_KEY) < 50
        or len(set(SECRET_KEY)) < 5
    )
):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is a placeholder or too short: use 50 or more random characters, e.g. "
        'python -c "import secrets; print(secrets.token_urlsafe(50))".'
    )
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) is required when DJANGO_DEBUG=false."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-1234567890"

# Encryption at rest: the master key wraps the per-clinic data keys (icbt/crypto.py).
ICBT_MASTER_KEY = env_secret("ICBT_MASTER_KEY")
ICBT_OLD_MASTER_KEYS = env_list("ICBT_OLD_MASTER_KEYS", [])
if not ICBT_MASTER_KEY and not DEBUG:
    raise ImproperlyConfigured(
        "ICBT_MASTER_KEY (or ICBT_MASTER_KEY_FILE) is required when DJANGO_DEBUG=false."
    )
# In development without a key, icbt.crypto creates one on first use, outside VAR_DIR: in
# $XDG_CONFIG_HOME/icbt/ (~/.config/icbt/), one file per data directory. A key left in
# var/dev-master.key by an older version is moved there.
ICBT_DEV_MASTER_KEY_FILE = Path(env_str("ICBT_DEV_MASTER_KEY_FILE", "") or dev_master_key_file(VAR_DIR))
ICBT_LEGACY_DEV_MASTER_KEY_FILE = VAR_DIR / "dev-master.key"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Links in e-mails. Without ICBT_SITE_URL: the address `make run` serves (its PORT, which the web
# server and the Celery worker both inherit), so invitation and digest links work on any port.
SITE_URL = env_str("ICBT_SITE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}").rstrip("/")

INSTALLED_APPS = [
    "icbt",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "programs",
    "devtools",
    "therapists",
    "patients",
    "messaging",
]

MIDDLEWARE = [
    # First: forwarded headers from anyone but our proxy are dropped before anything reads them.
    "icbt.middleware.TrustedProxyMiddleware",
    # Then: the client address for the audit trail, and refusals written after the response.
    "icbt.middleware.AuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "icbt.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages compressed; static files come compressed from WhiteNoise above and skip this.
    "icbt.middleware.PageCompressionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before the icbt middleware below: the idle time-out and the MFA gate leave a message.
    "django.contrib.messages.middleware.MessageMiddleware",
    # Outside every middleware that may sign someone out, so it sees that response.
    "icbt.client_storage.ClientStorageMiddleware",
    "icbt.middleware.UserLanguageMiddleware",
    "icbt.middleware.IdleTimeoutMiddleware",
    "icbt.middleware.StaffMFARequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Innermost: audits the admin pages that were actually served (after the MFA gate).
    "icbt.audit.AdminAuditMiddleware",
]

ROOT_URLCONF = "icbt.urls"
WSGI_APPLICATION = "icbt.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "icbt.context_processors.navigation",
                "therapists.context_processors.worklist_waiting",
                "icbt.client_storage.client_storage",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'icbt.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# Under gunicorn's sync workers each worker serves one request at a time: DB_CONN_MAX_AGE (e.g.
# 60) keeps its connection between requests instead of opening one per request; the health
# check makes a dropped connection cost one reconnect, not an error. DB_POOL=true uses Django's
# psycopg pool instead (PostgreSQL, needs the psycopg[pool] extra; DB_CONN_MAX_AGE must stay 0).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = DATABASES["default"]["CONN_MAX_AGE"] != 0
if env_bool("DB_POOL", False):
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DB_POOL=true needs PostgreSQL.")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2),
        "max_size": env_int("DB_POOL_MAX_SIZE", 4),
    }
# The SQL that pages build once per process (icbt.shaped_sql: the worklist's counts, patient
# filter and page) is prepared on the PostgreSQL connection and planned once for all
# (icbt.shaped_sql.prepared_cursor; icbt.apps sets plan_cache_mode on each new connection). On by
# default where connections outlive a request (DB_CONN_MAX_AGE or DB_POOL): a connection per
# request would prepare every statement again, one round trip more each. Off
# (DB_PREPARED_STATEMENTS=false) behind a pooler that cannot keep prepared statements (PgBouncer
# in transaction mode before 1.21, or without max_prepared_statements).
ICBT_DB_PREPARE = DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool(
    "DB_PREPARED_STATEMENTS", DATABASES["default"]["CONN_MAX_AGE"] != 0 or env_bool("DB_POOL", False)
)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # psycopg prepares a statement only when a cursor that binds on the server asks for it
    # (prepare=True): Django's own cursors bind on the client and are never prepared. Django's
    # default threshold, None, would refuse even those; one no query reaches makes psycopg prepare
    # nothing by itself.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# Two database roles in production (see README, "Database roles"): the application connects with
# DATABASE_URL as a role that may only read and write rows (on the audit trail: INSERT and SELECT);
# migrations and `db_roles` connect with DATABASE_MIGRATE_URL as the role that owns the tables,
# through the "owner" alias: `manage.py migrate --database owner`. In tests the alias mirrors default.
DATABASE_MIGRATE_URL = env_str("DATABASE_MIGRATE_URL", "")
if DATABASE_MIGRATE_URL:
    DATABASES["owner"] = dj_database_url.parse(DATABASE_MIGRATE_URL)
    DATABASES["owner"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["icbt.db_router.MigrateAsOwner"]
# The role the application connects as; `db_roles` grants it its rights. Default: DATABASE_URL's user.
ICBT_DB_APP_ROLE = env_str("ICBT_DB_APP_ROLE", DATABASES["default"].get("USER") or "")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Cache, Celery --------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    # Redis, with a table in the database standing in while Redis cannot be reached (rate
    # limits keep counting and people can still sign in); sessions use plain Redis, their store
    # falls back to the session table itself.
    CACHES = redis_caches(REDIS_URL)
    SESSION_CACHE_ALIAS = "redis"
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # A real, cross-process cache without a server: rate limits work under `make run`.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    # "localhost" only names the machine: without it Kombu warns that no hostname was supplied.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        # Kombu keeps its exchange tables here (by default a folder in the working directory).
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
        "visibility_timeout": 3600,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Both limits stay well below the broker's visibility timeout (3600 s), so a task is never
# handed to a second worker while the first one may still be running it.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The notification digests (messaging/tasks.py). Every task is safe to run twice and to overlap
# with itself; "expires" drops beats that waited in the queue while no worker ran.
CELERY_BEAT_SCHEDULE = {
    "digests-send-due": {
        "task": "messaging.tasks.digests_send_due",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "notifications-scan": {
        "task": "messaging.tasks.notifications_scan",
        "schedule": 900.0,
        "options": {"expires": 850},
    },
    "notifications-purge": {
        "task": "messaging.tasks.notifications_purge",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    "form-submissions-purge": {
        "task": "icbt.tasks.form_submissions_purge",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    # The work-item table against the source tables; drift is logged as an error and repaired.
    "work-items-reconcile": {
        "task": "patients.tasks.work_items_reconcile",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 3600},
    },
    # The dashboard's figures and tallies against the source tables (after the work items).
    "figures-reconcile": {
        "task": "patients.tasks.figures_reconcile",
        "schedule": crontab(hour=3, minute=45),
        "options": {"expires": 3600},
    },
}
CELERY_TIMEZONE = "UTC"

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_URL = env_str("EMAIL_URL", f"file://{VAR_DIR / 'mail'}")
_email = urlparse(EMAIL_URL)
if _email.scheme == "file":
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = unquote(_email.path)
elif _email.scheme == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
elif _email.scheme == "locmem":
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
elif _email.scheme in ("smtp", "smtps", "smtp+tls"):
    _q = parse_qs(_email.query)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 25)
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "smtp+tls" or _q.get("tls", ["false"])[0] == "true"
    EMAIL_TIMEOUT = 20
else:
    raise ImproperlyConfigured(
        f"EMAIL_URL: unknown scheme {_email.scheme!r} (use smtp, smtps, smtp+tls, file, console)."
    )
# A neutral sender: nothing in it says which clinic or which treatment.
DEFAULT_FROM_EMAIL = env_str("ICBT_FROM_EMAIL", "Online care <no-reply@example.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Authentication (django-allauth with MFA) -------------------------------------------------
AUTH_USER_MODEL = "icbt.User"
AUTHENTICATION_BACKENDS = [
    "icbt.backends.ModelBackend",
    "icbt.backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "icbt.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_PREVENT_ENUMERATION = True
# Never "remember me": sessions end when the browser closes (shared computers at home and at work).
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    # Failed passwords are throttled by icbt.signin (per account and per client address, with
    # back-off, never against the person's usual network): icbt's adapter replaces allauth's
    # pre_authenticate, so allauth's password lock-out never runs. allauth uses this same limit,
    # keyed per user, for second-factor codes (TOTP and recovery codes): five wrong codes in five
    # minutes hold back further codes for that user.
    "login_failed": "5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
MFA_ADAPTER = "icbt.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("ICBT_TOTP_ISSUER", "icbt")
MFA_RECOVERY_CODE_COUNT = 10
# The set-up page keeps one pending secret per session until set-up succeeds (a reload shows the
# same QR code, so a scanned code keeps working).
MFA_FORMS = {"activate_totp": "icbt.forms.ActivateTOTPForm"}
# Sessions are read from the cache and kept in the database (icbt/session_store.py): no session
# query on a request, and a cache outage falls back to the database. A cached copy lives at most
# this long (a session ended while the cache was unreachable stays usable no longer than that).
SESSION_ENGINE = "icbt.session_store"
ICBT_SESSION_CACHE_SECONDS = env_int("ICBT_SESSION_CACHE_SECONDS", 300)
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Sessions end after this many minutes without a request: staff, and patients (who get a
# warning shortly before, with a button to stay signed in).
ICBT_STAFF_IDLE_MINUTES = env_int("ICBT_STAFF_IDLE_MINUTES", 30)
ICBT_PATIENT_IDLE_MINUTES = env_int("ICBT_PATIENT_IDLE_MINUTES", 60)
# Failed passwords (icbt/signin.py): the account is held back for unknown client addresses after
# this many failures, a client address after this many (all accounts together); the wait starts
# at one minute and doubles up to the maximum. Addresses the person signed in from within the
# known-address days are never held back by the account or address counters.
ICBT_SIGNIN_FAILURES_PER_ACCOUNT = env_int("ICBT_SIGNIN_FAILURES_PER_ACCOUNT", 5)
ICBT_SIGNIN_FAILURES_PER_ADDRESS = env_int("ICBT_SIGNIN_FAILURES_PER_ADDRESS", 20)
ICBT_SIGNIN_LOCK_MAX_MINUTES = env_int("ICBT_SIGNIN_LOCK_MAX_MINUTES", 60)
ICBT_SIGNIN_KNOWN_ADDRESS_DAYS = env_int("ICBT_SIGNIN_KNOWN_ADDRESS_DAYS", 90)
ICBT_INVITATION_DAYS = env_int("ICBT_INVITATION_DAYS", 7)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("ICBT_TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True
# One date style per language (icbt/formats/<language>/formats.py): "30 Nov 2026", "30 nov. 2026".
FORMAT_MODULE_PATH = ["icbt.formats"]

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("ICBT_MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security -------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# A form open from an earlier sign-in: the normal layout, plain words, the crisis lines.
CSRF_FAILURE_VIEW = "icbt.views.csrf_failure"
# Flash messages live in the session, not in a cookie of their own: a message may name the
# patient ("Welcome back, Anna"), and cookies leave the server. Only a confirmation whose text is
# fixed in the code ("Your diary is saved ...") travels in a short-lived signed cookie holding
# its code, bound to the session (icbt.flash): a save that redirects writes no session for it.
MESSAGE_STORAGE = "icbt.flash.ConfirmationStorage"
ICBT_CONFIRMATION_COOKIE_NAME = "icbt_confirmed"
# The ids of the local copies a save confirmed, for the next page (icbt.client_storage).
ICBT_LOCAL_COPIES_COOKIE_NAME = "icbt_copies"
# Forwarded headers are honoured only from these addresses or networks (the TLS proxy); see
# icbt.middleware.TrustedProxyMiddleware and gunicorn.conf.py.
ICBT_TRUSTED_PROXIES = env_list("DJANGO_TRUSTED_PROXIES", [])
for _proxy in ICBT_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"DJANGO_TRUSTED_PROXIES: {_proxy!r} is not an address or network."
        ) from error
if env_bool("DJANGO_BEHIND_PROXY", False) and not ICBT_TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "DJANGO_BEHIND_PROXY=true needs DJANGO_TRUSTED_PROXIES: the address(es) of the proxy whose "
        "X-Forwarded-* headers may be believed."
    )
if not DEBUG:
    # __Host- cookies: sent only over HTTPS, only to this exact host, for the whole site.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    ICBT_CONFIRMATION_COOKIE_NAME = "__Host-confirmed"
    ICBT_LOCAL_COPIES_COOKIE_NAME = "__Host-copies"
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    if env_bool("DJANGO_BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content Security Policy, sent by icbt.middleware.SecurityHeadersMiddleware: only our own
# host, no inline scripts, no frames.
# The product's own name, beside its mark in the header and in page titles (a brand, not translated).
PRODUCT_NAME = "Koers"

ICBT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# --- Logging: never clinical text; request data is not logged -------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("ICBT_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}
ADMINS = []

# --- Product settings -----------------------------------------------------------------------
ICBT_FEEDBACK_OVERDUE_WORKING_DAYS = env_int("ICBT_FEEDBACK_OVERDUE_WORKING_DAYS", 2)
ICBT_INACTIVE_DAYS = env_int("ICBT_INACTIVE_DAYS", 7)
# Stepped care after Master your Fatigue: advise face-to-face CBT when the end CIS fatigue score
# is at or above this, or the RAND-36 physical functioning score at or below this.
ICBT_STEPUP_CIS_THRESHOLD = env_int("ICBT_STEPUP_CIS_THRESHOLD", 35)
ICBT_STEPUP_RAND_PF_THRESHOLD = env_int("ICBT_STEPUP_RAND_PF_THRESHOLD", 70)
# Early warning from the weekly check-ins (patients.measurement): from this week of treatment on,
# flag a patient whose symptom score has not improved by this percentage of the 0-10 scale since
# the start, or whose PHQ-2 is 3 or more, or who missed three check-ins in a row.
ICBT_EARLY_WARNING_WEEK = env_int("ICBT_EARLY_WARNING_WEEK", 4)
ICBT_EARLY_WARNING_MARGIN_PERCENT = env_int("ICBT_EARLY_WARNING_MARGIN_PERCENT", 10)
# Public intake requests accepted per client address per hour.
ICBT_INTAKE_REQUESTS_PER_HOUR = env_int("ICBT_INTAKE_REQUESTS_PER_HOUR", 5)
# Uploads: licensed questionnaire files are checked by a Celery task that may run at most this
# many seconds; recordings are refused above their size limit.
ICBT_LICENSED_UPLOAD_MAX_BYTES = env_int("ICBT_LICENSED_UPLOAD_MAX_BYTES", 200_000)
ICBT_LICENSED_UPLOAD_SECONDS = env_int("ICBT_LICENSED_UPLOAD_SECONDS", 20)
ICBT_RECORDING_MAX_MB = env_int("ICBT_RECORDING_MAX_MB", 500)
# PDF downloads: a person may have this many PDFs made per window (a PDF whose data did not
# change comes from the cache and does not count), and one at a time.
ICBT_PDF_RENDERS_PER_WINDOW = env_int("ICBT_PDF_RENDERS_PER_WINDOW", 6)
ICBT_PDF_WINDOW_SECONDS = env_int("ICBT_PDF_WINDOW_SECONDS", 600)
ICBT_PDF_CACHE_SECONDS = env_int("ICBT_PDF_CACHE_SECONDS", 3600)
# Notification digests (messaging/notifications/digests.py): "soon" batches at most once per
# this many minutes; a claimed digest whose run died is taken over after the lease (longer than
# the task time limit, so a lease never expires under a run that is still alive); an optional
# pause between e-mails for mail relays that limit the rate; handled notifications are deleted
# after the retention.
ICBT_DIGEST_SOON_MINUTES = env_int("ICBT_DIGEST_SOON_MINUTES", 5)
ICBT_DIGEST_LEASE_SECONDS = env_int("ICBT_DIGEST_LEASE_SECONDS", 600)
ICBT_DIGEST_SEND_PAUSE_MS = env_int("ICBT_DIGEST_SEND_PAUSE_MS", 0)
ICBT_NOTIFICATION_RETENTION_DAYS = env_int("ICBT_NOTIFICATION_RETENTION_DAYS", 180)

# --- Local folders ----------------------------------------------------------------------------
# The embedded defaults keep their files under VAR_DIR. Made here, when the settings are read,
# so that they exist before anything opens them (the SQLite file at `migrate`, the file cache,
# the e-mail folder, Kombu's queue): nothing may depend on the order in which other code runs.
_local_folders = []
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and DATABASES["default"]["NAME"] not in (
    "",
    ":memory:",
):
    _local_folders.append(Path(DATABASES["default"]["NAME"]).parent)
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    _local_folders.append(Path(CACHES["default"]["LOCATION"]))
if CELERY_BROKER_URL.startswith("filesystem://"):
    _local_folders += [Path(v) for k, v in CELERY_BROKER_TRANSPORT_OPTIONS.items() if "folder" in k]
    _local_folders.append(Path(CELERY_BEAT_SCHEDULE_FILENAME).parent)
if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
    _local_folders.append(Path(EMAIL_FILE_PATH))
for _folder in _local_folders:
    _folder.mkdir(parents=True, exist_ok=True)
