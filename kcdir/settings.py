"""kcdir settings: one module, configured by environment variables.

Every variable has a safe local default except SECRET_KEY, which production
(DEBUG off) must provide. The README lists them all.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp import constants as csp_constants
from django.core.exceptions import ImproperlyConfigured

from identity.config import ConfigError, providers_from_env

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_share(name: str, default: str) -> float:
    """A share between 0 and 1, written as a fraction (``0.05``) or a percentage (``5%``)."""
    text = (os.environ.get(name) or default).strip()
    try:
        share = float(text.removesuffix("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise ImproperlyConfigured(f"{name} must be a share such as 0.05 or 5%, not {text!r}.")
    return share


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 (DEBUG only)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    "axes",
    "members",
    "communities",
    "identity",
    "provisioning",
    "django_q",
    "background",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early, so even responses refused further down (a bad Host) carry the headers.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "kcdir.middleware.PrivatePagesMiddleware",
    "members.middleware.CurrentMemberMiddleware",
    # Links in emails a request causes use the address it reached kcdir at.
    "kcdir.site.SiteURLMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses sign-in while a username+address pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    "communities.backends.MemberBackend",
]

ROOT_URLCONF = "kcdir.urls"

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
                "communities.context_processors.navbar",
                "csp.context_processors.nonce",
            ],
        },
    },
    # The rows of the longest tables, drawn on every request (kcdir/jinja2.py says why).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "kcdir.jinja2.environment"},
    },
]

WSGI_APPLICATION = "kcdir.wsgi.application"

# Database: SQLite file in the project unless DATABASE_URL names another.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside a writer; IMMEDIATE takes the write lock at
    # BEGIN, so concurrent writers wait (busy timeout) instead of failing with
    # "database is locked" when a read transaction tries to upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
        ),
    }
    # The directory's indexes hold extra columns on PostgreSQL (INCLUDE); SQLite makes
    # them without, which is what they need there.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

# PostgreSQL: the planner's default cost of a random read (4) is for spinning disks; on
# SSDs, or with the data in memory, 1.1 lets it use indexes where they are faster (a
# department's communities: 120 -> 16 ms on the enterprise data). PG_RANDOM_PAGE_COST
# changes it; empty leaves the server's own setting.
PG_RANDOM_PAGE_COST = os.environ.get("PG_RANDOM_PAGE_COST", "1.1")
if DATABASES["default"]["ENGINE"].endswith("postgresql") and PG_RANDOM_PAGE_COST:
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c random_page_cost={float(PG_RANDOM_PAGE_COST)}"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# -- Security ---------------------------------------------------------------------------
# HTTPS everything in production: one switch, KCDIR_HTTPS=1 (the README's deployment
# section). Off by default so that `make run` and the tests work over plain HTTP.
HTTPS = env_bool("KCDIR_HTTPS")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
# Behind reverse proxies (KCDIR_BEHIND_PROXY=1): trust the X-Forwarded-Proto they set,
# and take the client's address from the X-Forwarded-For they append to, counting
# KCDIR_PROXY_COUNT proxies (default 1) from the right (kcdir/client.py). Without it,
# both headers are the client's own to forge and are ignored.
KCDIR_BEHIND_PROXY = env_bool("KCDIR_BEHIND_PROXY")
KCDIR_PROXY_COUNT = int(os.environ.get("KCDIR_PROXY_COUNT") or int(KCDIR_BEHIND_PROXY))
if KCDIR_PROXY_COUNT < 0:
    raise ImproperlyConfigured("KCDIR_PROXY_COUNT is a number of proxies: 0 or more.")
if KCDIR_BEHIND_PROXY:
    # Only behind a proxy that sets this header and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

# Content Security Policy (django-csp): nothing inline runs or styles the page
# without the request's nonce; every asset comes from this site.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF, csp_constants.NONCE],
        "style-src": [csp_constants.SELF, csp_constants.NONCE],
        # Bootstrap draws its icons (select arrows, the menu button) as data: SVGs.
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    },
}

# Sign-in throttling (django-axes): 5 failures for one username from one address
# lock that pair out for 15 minutes. Keyed on the pair, so nobody can lock a
# colleague out from elsewhere, and the lock lifts by itself.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins need no table of their own
AXES_VERBOSE = False
# The same client address as the rate limits and the security log (proxies above).
AXES_CLIENT_IP_CALLABLE = "kcdir.client.client_address"
# axes' database handler, plus a pause for a whole address (kcdir/throttle.py): while
# KCDIR_ADDRESS_FAILURE_LIMIT failed sign-ins from one address, whatever the usernames,
# and not followed by that person signing in, lie within the cool-off. A shared office
# where people mistype and then get in does not reach it. 0 turns it off.
AXES_HANDLER = "kcdir.throttle.SignInHandler"
KCDIR_ADDRESS_FAILURE_LIMIT = int(os.environ.get("KCDIR_ADDRESS_FAILURE_LIMIT", "20"))
# The password-change form checks the old password as a sign-in (kcdir/throttle.py):
# axes keeps the form's fields with each failure, so these are masked as "password" is.
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "old_password",
    "new_password1",
    "new_password2",
]

# The cache. With REDIS_URL, Redis: shared by every app process, so sessions, sign-out
# and rate limits hold across them. Without it, each process keeps its own memory cache,
# which is right only for one process (`make run`, the tests). A Redis outage is a cache
# miss, not an error (kcdir/cache.py): sessions fall back to the database.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": {
        "BACKEND": os.environ.get(
            "CACHE_BACKEND",
            "kcdir.cache.ForgivingRedisCache"
            if REDIS_URL
            else "django.core.cache.backends.locmem.LocMemCache",
        ),
        "LOCATION": os.environ.get("CACHE_LOCATION", REDIS_URL or "kcdir"),
    },
    # What pages draw for everyone, under the directory version (communities/
    # caching.py): correct in any process, so kept in each process's memory.
    # Sections are up to ~50 KB (the directory's), so 500 of them ~25 MB at most.
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "kcdir-pages",
        "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("PAGE_CACHE_ENTRIES", "500"))},
    },
    # Community cards keyed by what they show (communities/caching.py): ~1 KB each.
    "cards": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "kcdir-cards",
        "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("CARD_CACHE_ENTRIES", "10000"))},
    },
}
SHARED_CACHE = "locmem" not in CACHES["default"]["BACKEND"]

# Sessions are read from the cache and written through to the database (no session
# query on most requests, nothing lost when a process restarts), but only when the
# cache is shared: with per-process caches, signing out in one process would leave the
# session alive in the others. Otherwise they are read from the database.
SESSION_ENGINE = os.environ.get(
    "SESSION_ENGINE",
    "django.contrib.sessions.backends.cached_db"
    if SHARED_CACHE
    else "django.contrib.sessions.backends.db",
)

# Single sign-on (identity/config.py documents the variables; README "Single sign-on").
try:
    IDENTITY_PROVIDERS = providers_from_env()
except ConfigError as error:
    raise ImproperlyConfigured(str(error)) from None
# Seconds kcdir waits for an identity provider (discovery, keys, tokens) before it
# tells the person the provider cannot be reached.
IDENTITY_HTTP_TIMEOUT = float(os.environ.get("KCDIR_SSO_TIMEOUT", "10"))
# KCDIR_PASSWORD_LOGIN=0: only the identity providers sign people in; superusers keep
# their passwords, for the admin.
KCDIR_PASSWORD_LOGIN = env_bool("KCDIR_PASSWORD_LOGIN", True)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "communities:community_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Bootstrap comes from its npm package (package.json), installed by `make`.
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "kcdir <kcdir@localhost>")
# The mail server (SMTP backend): Django's own settings, read from the environment.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
# Seconds a slow mail server may hold a request (unset, it could hold a worker past
# gunicorn's own timeout after the change is saved).
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
# -- Background work (README "Deploying" and "Emails kcdir sends") -----------------------
# The task queue: django-q2 with its database broker, so the queue lives in the same
# database as everything else (SQLite or PostgreSQL) and needs no other service. The
# worker is `manage.py qcluster`; `make run` starts one beside the server.
Q_CLUSTER = {
    "name": "kcdir",
    "orm": "default",
    "workers": int(os.environ.get("KCDIR_WORKER_PROCESSES", "2")),
    # Seconds a task may run (a big import or export), then it is stopped; a task whose
    # worker died is handed out again after KCDIR_QUEUE_RETRY_SECONDS (more than that).
    "timeout": int(os.environ.get("KCDIR_QUEUE_TIMEOUT_SECONDS", "900")),
    "retry": int(os.environ.get("KCDIR_QUEUE_RETRY_SECONDS", "960")),
    "max_attempts": 3,
    "ack_failures": False,
    "catch_up": False,
    "save_limit": 500,
    "poll": float(os.environ.get("KCDIR_QUEUE_POLL_SECONDS", "1")),
    "label": "Task queue",
}
# /healthz/ answers 503 when a task or an email has waited longer than this.
KCDIR_QUEUE_STUCK_MINUTES = int(os.environ.get("KCDIR_QUEUE_STUCK_MINUTES", "15"))
# "worker": emails and long actions run in the worker (production, `make run`); "inline":
# in the process that made the change, after its commit, through the same code (the
# tests; tests/worker/ runs the real worker).
KCDIR_TASKS = os.environ.get("KCDIR_TASKS", "worker")
if KCDIR_TASKS not in {"worker", "inline"}:
    raise ImproperlyConfigured("KCDIR_TASKS is worker or inline.")
# Roster imports of more than this many rows are applied by the worker, with a progress page.
KCDIR_BACKGROUND_IMPORT_ROWS = int(os.environ.get("KCDIR_BACKGROUND_IMPORT_ROWS", "10000"))
# Adding or inviting more than this many people at once is done by the worker, likewise.
KCDIR_BACKGROUND_ADD_PEOPLE = int(os.environ.get("KCDIR_BACKGROUND_ADD_PEOPLE", "500"))
# A failed send is tried again after this many seconds, doubled at each attempt, up to
# KCDIR_EMAIL_MAX_ATTEMPTS attempts (60 s and 8: the last about two hours after the
# first); then it is failed and listed on the dashboard.
KCDIR_EMAIL_RETRY_SECONDS = float(os.environ.get("KCDIR_EMAIL_RETRY_SECONDS", "60"))
KCDIR_EMAIL_MAX_ATTEMPTS = int(os.environ.get("KCDIR_EMAIL_MAX_ATTEMPTS", "8"))
# How long one send may take before a worker that stopped mid-send is presumed gone.
KCDIR_EMAIL_LEASE_SECONDS = float(
    os.environ.get("KCDIR_EMAIL_LEASE_SECONDS", str(max(300, 6 * EMAIL_TIMEOUT)))
)

# The address people reach kcdir at, for links in emails (kcdir/site.py). Unset, links
# use the address of the request that caused the email (in development, `make run`'s).
# KCDIR_BASE_URL is its former name, still read.
KCDIR_SITE_URL = os.environ.get("KCDIR_SITE_URL") or os.environ.get("KCDIR_BASE_URL", "")

PAGE_SIZE = 24

# Days an invitation waits for an answer; after that it cannot be accepted, and
# ``manage.py lapse_invitations`` (daily, from cron) ends it with a history event.
INVITATION_EXPIRY_DAYS = int(os.environ.get("KCDIR_INVITATION_EXPIRY_DAYS", "30"))
if INVITATION_EXPIRY_DAYS < 1:
    raise ImproperlyConfigured(
        "KCDIR_INVITATION_EXPIRY_DAYS must be a whole number of days, 1 or more."
    )

# Days before a membership's end date that its member is reminded (each once), and that
# ``manage.py expire_memberships`` (daily) sends; the same command ends what passed.
try:
    EXPIRY_REMINDER_DAYS = sorted(
        {
            int(d)
            for d in os.environ.get("KCDIR_EXPIRY_REMINDER_DAYS", "14,3").split(",")
            if d.strip()
        },
        reverse=True,
    )
except ValueError as error:
    raise ImproperlyConfigured(
        "KCDIR_EXPIRY_REMINDER_DAYS must be whole numbers of days separated by commas."
    ) from error
if any(days < 1 for days in EXPIRY_REMINDER_DAYS):
    raise ImproperlyConfigured("KCDIR_EXPIRY_REMINDER_DAYS must be 1 or more each.")
# Days a review may stay overdue after its sponsor was told before it is listed on the
# directory admins' dashboard (``manage.py run_reviews``).
REVIEW_ESCALATION_GRACE_DAYS = int(os.environ.get("KCDIR_REVIEW_ESCALATION_GRACE_DAYS", "7"))

# The most of the people HR manages that one sync may deactivate (``manage.py
# sync_people --force`` goes beyond it): a truncated extract must not empty the directory.
PEOPLE_SYNC_MAX_DEACTIVATE_SHARE = env_share("KCDIR_PEOPLE_SYNC_MAX_DEACTIVATE", "0.05")

# How long a page may keep what it drew for everyone (communities/caching.py):
# entries are also dropped at once by any change to the directory. 0 turns it off.
DIRECTORY_CACHE_SECONDS = int(os.environ.get("DIRECTORY_CACHE_SECONDS", "300"))

# The most rows one roster import (the Import CSV page, manage.py import_roster) takes;
# a larger file is refused at upload with the count. Each upload is planned and stored
# once, so this bounds the work and the rows one upload costs.
ROSTER_IMPORT_MAX_ROWS = int(os.environ.get("KCDIR_ROSTER_IMPORT_MAX_ROWS", "50000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refused_on_one_line": {"()": "kcdir.log_filters.RefusedRequestsOnOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own loggers go to the root's handler only (its default adds a console
        # handler of its own under DEBUG, printing every record twice).
        "django": {"handlers": [], "level": "INFO"},
        # A refused request (4xx) logs one line, no traceback (kcdir/log_filters.py).
        "django.request": {"filters": ["refused_on_one_line"]},
        # Failed sign-ins, lockouts and refused authorisations, with user and address.
        "kcdir.security": {"level": "INFO"},
        "axes": {"level": "WARNING"},
    },
}

# SCIM 2.0 provisioning (the provisioning app; README "Provisioning"): django-scim2's
# views with kcdir's adapters, filters and bearer tokens. Requests a minute one address
# may make to /scim/v2/ (429 beyond): a provider's full sync stays well under it.
SCIM_RATE_LIMIT = int(os.environ.get("KCDIR_SCIM_RATE_LIMIT", "1200"))
SCIM_SERVICE_PROVIDER = {
    "USER_ADAPTER": "provisioning.scim.UserAdapter",
    "GROUP_ADAPTER": "provisioning.scim.GroupAdapter",
    "GROUP_MODEL": "provisioning.models.ProvisionedGroup",
    "USER_FILTER_PARSER": "provisioning.filters.UserFilter",
    "GROUP_FILTER_PARSER": "provisioning.filters.GroupFilter",
    "SERVICE_PROVIDER_CONFIG_MODEL": "provisioning.scim_views.ServiceProviderConfig",
    "AUTH_CHECK_MIDDLEWARE": "provisioning.scim_auth.BearerTokenCheck",
    "BASE_LOCATION_GETTER": "provisioning.scim.base_location",
    "SCHEMAS_GETTER": "provisioning.scim.schemas",
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="kcdir SCIM"',
}
