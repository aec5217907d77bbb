"""Sign-in protection and the record of sign-in and account-security events.

**Throttling failed passwords** (``check`` / ``record_failure``, called from
``icbt.adapters.AccountAdapter``). Three counters of failed passwords, kept in the cache:

- per account (the typed address, hashed: also for addresses that have no account, so the
  answer never tells whether an account exists),
- per client address (all accounts: password spraying from one place),
- per account *and* client address.

A counter at or above its threshold holds back the next attempt for one minute after the last
failure, doubling with every further failure, up to ``ICBT_SIGNIN_LOCK_MAX_MINUTES``.
The account and address counters only apply to addresses the person has not signed in from
recently (``ICBT_SIGNIN_KNOWN_ADDRESS_DAYS``), and not to a browser they signed in with in that
time (a signed cookie): an attack on an account from elsewhere never locks its owner out of their
usual network or device, and failures from there do not count towards them. The
account-and-address counter applies everywhere, with twice the account threshold, so the usual
network has its own brake. Counters are forgotten a day after their
last failure; a successful sign-in clears only its account-and-address counter (clearing more
would let an attacker reset the brake with their own account), a password reset clears the
account's counter.

**Recording** (the signal receivers below, connected in ``IcbtConfig.ready``): sign-in,
sign-out, wrong passwords (Django's ``user_login_failed``: the typed password is never read;
an unknown address writes an event without a user and creates nothing), wrong second-factor
codes, held-back attempts, password resets and changes, second factors added and removed,
recovery codes used, e-mail changes. Every event goes through ``icbt.audit.audit_record``.
"""

import hashlib
import ipaddress
import logging
import math
import re
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from icbt.audit import Action, Outcome, audit_record, client_ip
from icbt.models import SignIn, User

logger = logging.getLogger("icbt.security")

_BASE_LOCK_SECONDS = 60
_COUNTER_SECONDS = 24 * 60 * 60


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
    return f"icbt:signin:{kind}:{digest}"


def _network(address: str) -> str:
    """The unit an address brake counts: one IPv4 address, or the /64 of an IPv6 address (one
    home or phone gets a whole /64 and can walk through it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(email: str, address: str) -> dict[str, str]:
    email = (email or "").strip().lower()
    return {
        "account": _key("account", email),
        "address": _key("address", _network(address)),
        "pair": _key("pair", email, address),
    }


def _thresholds() -> dict[str, int]:
    per_account = settings.ICBT_SIGNIN_FAILURES_PER_ACCOUNT
    return {
        "account": per_account,
        "address": settings.ICBT_SIGNIN_FAILURES_PER_ADDRESS,
        "pair": per_account * 2,
    }


def _now() -> float:
    return timezone.now().timestamp()


def _wait(key: str, threshold: int, now: float) -> int:
    count, last = cache.get(key) or (0, 0.0)
    if count < threshold:
        return 0
    doublings = min(count - threshold, 16)
    lock = min(settings.ICBT_SIGNIN_LOCK_MAX_MINUTES * 60, _BASE_LOCK_SECONDS * 2**doublings)
    return max(0, math.ceil(last + lock - now))


def is_known_address(email: str, address: str | None) -> bool:
    """Whether the account of ``email`` signed in from ``address`` recently."""
    if not address or not email:
        return False
    since = timezone.now() - timedelta(days=settings.ICBT_SIGNIN_KNOWN_ADDRESS_DAYS)
    return SignIn.objects.filter(user__email__iexact=email.strip(), client_ip=address, at__gte=since).exists()


# A browser the person signed in with recently carries a signed cookie with a keyed hash of their
# address (never the address itself), so a phone whose network address changes is recognised too.
_DEVICE_SALT = "icbt.known-device"


def _device_cookie_name() -> str:
    return ("__Host-" if settings.SESSION_COOKIE_SECURE else "") + "icbt_known"


def _device_tag(email: str) -> str:
    return salted_hmac(_DEVICE_SALT, (email or "").strip().lower()).hexdigest()[:20]


def _device_tags(request) -> list[str]:
    if request is None:
        return []
    value = request.get_signed_cookie(
        _device_cookie_name(),
        default="",
        salt=_DEVICE_SALT,
        max_age=settings.ICBT_SIGNIN_KNOWN_ADDRESS_DAYS * 86400,
    )
    return [tag for tag in value.split(",") if tag]


def is_known(request, email: str) -> bool:
    """Whether this attempt comes from the person's usual network or a browser they signed in
    with recently: the account-wide and address-wide brakes do not apply to it."""
    if email and _device_tag(email) in _device_tags(request):
        return True
    return is_known_address(email, client_ip(request))


def remember_device(request, response, user) -> None:
    tag = _device_tag(user.email)
    tags = [tag] + [t for t in _device_tags(request) if t != tag][:4]
    response.set_signed_cookie(
        _device_cookie_name(),
        ",".join(tags),
        salt=_DEVICE_SALT,
        max_age=settings.ICBT_SIGNIN_KNOWN_ADDRESS_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
        path="/",
    )


def check(request, email: str) -> tuple[int, str]:
    """``(seconds to wait, which brake)`` for a password attempt now; ``(0, "")`` when it may go on."""
    address = client_ip(request) or "unknown"
    keys, thresholds, now = _keys(email, address), _thresholds(), _now()
    kinds = ["pair"] if is_known(request, email) else ["pair", "account", "address"]
    waits = [(_wait(keys[kind], thresholds[kind], now), kind) for kind in kinds]
    seconds, kind = max(waits)
    return (seconds, kind) if seconds > 0 else (0, "")


def record_failure(request, email: str) -> None:
    address = client_ip(request) or "unknown"
    keys, now = _keys(email, address), _now()
    kinds = ["pair"] if is_known(request, email) else ["pair", "account", "address"]
    for kind in kinds:
        count, _last = cache.get(keys[kind]) or (0, 0.0)
        cache.set(keys[kind], (count + 1, now), _COUNTER_SECONDS)


def clear_after_sign_in(request, email: str) -> None:
    cache.delete(_keys(email, client_ip(request) or "unknown")["pair"])


def clear_account(email: str) -> None:
    cache.delete(_keys(email, "")["account"])


def wait_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many sign-in attempts. For your safety, please wait %(minutes)d minute and try again.",
        "Too many sign-in attempts. For your safety, please wait %(minutes)d minutes and try again.",
        minutes,
    ) % {"minutes": minutes}


def account_for(email: str) -> User | None:
    if not email:
        return None
    return User.objects.filter(email__iexact=email.strip()).first()


# --- The browser in words ---------------------------------------------------------------------

_BROWSERS = [
    (re.compile(r"Edg(e|A|iOS)?/"), "Edge"),
    (re.compile(r"OPR/|Opera"), "Opera"),
    (re.compile(r"SamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"Firefox/|FxiOS/"), "Firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "Chrome"),
    (re.compile(r"Safari/"), "Safari"),
]
_SYSTEMS = [
    (re.compile(r"iPhone"), "iPhone"),
    (re.compile(r"iPad"), "iPad"),
    (re.compile(r"Android"), "Android"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"Linux"), "Linux"),
]


def device_in_words(user_agent: str) -> str:
    """``"Firefox on Windows"`` from a User-Agent header; a plain phrase when it is unknown."""
    browser = next((name for pattern, name in _BROWSERS if pattern.search(user_agent or "")), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(user_agent or "")), None)
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    if browser or system:
        return browser or system
    return _("an unknown browser or app")


# --- Recording (signal receivers) -------------------------------------------------------------


def record(*, user, request, action: str, object_type: str, outcome: str = Outcome.OK) -> None:
    """One security event: a row in the audit trail and a log line (an account id and the client
    address; never an e-mail address or anything typed)."""
    audit_record(user=user, action=action, object_type=object_type, outcome=outcome)
    logger.info(
        "security event=%s kind=%s outcome=%s user=%s address=%s",
        action,
        object_type,
        outcome,
        user.pk if user is not None else "-",
        client_ip(request) or "-",
    )


def on_logged_in(sender, request, user, response=None, **kwargs):
    """Records the sign-in (the audit trail, and the person's own list, whose rows older than the
    known-address window are removed here) and remembers this browser for the throttle."""
    now = timezone.now()
    SignIn.objects.create(
        user=user,
        at=now,
        client_ip=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:300],
    )
    SignIn.objects.filter(
        user=user, at__lt=now - timedelta(days=settings.ICBT_SIGNIN_KNOWN_ADDRESS_DAYS)
    ).delete()
    record(user=user, request=request, action=Action.LOGIN, object_type="session")
    if request is not None:
        clear_after_sign_in(request, user.email)
        if response is not None:
            remember_device(request, response, user)


def on_logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(user=user, request=request, action=Action.LOGOUT, object_type="session")


def on_login_failed(sender, credentials, request=None, **kwargs):
    """A wrong password (or an unknown address). Only the login name is read from
    ``credentials``; the password (already masked by Django) is never looked at."""
    email = credentials.get("email") or credentials.get("username") or ""
    record(
        user=account_for(email),
        request=request,
        action=Action.LOGIN,
        object_type="password",
        outcome=Outcome.DENIED,
    )


def on_mfa_failed(sender, request, user, authenticator, **kwargs):
    record(
        user=user,
        request=request,
        action=Action.LOGIN,
        object_type=authenticator.type,
        outcome=Outcome.DENIED,
    )


def on_authenticator_added(sender, request, user, authenticator, **kwargs):
    record(user=user, request=request, action=Action.MFA_ADD, object_type=authenticator.type)


def on_authenticator_removed(sender, request, user, authenticator, **kwargs):
    record(user=user, request=request, action=Action.MFA_REMOVE, object_type=authenticator.type)


def on_authenticator_reset(sender, request, user, authenticator, **kwargs):
    record(user=user, request=request, action=Action.MFA_RESET, object_type=authenticator.type)


def on_authenticator_used(sender, request, user, authenticator, **kwargs):
    from allauth.mfa.models import Authenticator

    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        record(user=user, request=request, action=Action.RECOVERY_CODE, object_type=authenticator.type)


def on_password_reset(sender, request, user, **kwargs):
    record(user=user, request=request, action=Action.PASSWORD_RESET, object_type="password")
    clear_account(user.email)


def on_password_changed(sender, request, user, **kwargs):
    record(user=user, request=request, action=Action.PASSWORD_CHANGE, object_type="password")


def on_authentication_step(sender, request, method, **kwargs) -> None:
    """A password or code typed to sign in a moment ago also confirms that it is the person.

    allauth asks again ("reauthenticate") before changes to how one signs in, and counts only
    steps marked as such, so a new staff member who had just typed their password was asked for
    it once more on the page that sets up their authenticator app. The mark lasts
    ACCOUNT_REAUTHENTICATION_TIMEOUT like any other."""
    from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY

    if request is None or method not in ("password", "mfa"):
        return
    records = request.session.get(AUTHENTICATION_METHODS_SESSION_KEY)
    if records and not records[-1].get("reauthenticated"):
        request.session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            *records[:-1],
            {**records[-1], "reauthenticated": True},
        ]


def connect() -> None:
    from allauth.account import signals as account_signals
    from allauth.mfa import signals as mfa_signals
    from django.contrib.auth import signals as auth_signals

    uid = "icbt.signin"
    account_signals.user_logged_in.connect(on_logged_in, dispatch_uid=f"{uid}.in")
    account_signals.authentication_step_completed.connect(on_authentication_step, dispatch_uid=f"{uid}.step")
    auth_signals.user_logged_out.connect(on_logged_out, dispatch_uid=f"{uid}.out")
    auth_signals.user_login_failed.connect(on_login_failed, dispatch_uid=f"{uid}.failed")
    mfa_signals.authentication_failed.connect(on_mfa_failed, dispatch_uid=f"{uid}.mfa_failed")
    mfa_signals.authenticator_added.connect(on_authenticator_added, dispatch_uid=f"{uid}.mfa_add")
    mfa_signals.authenticator_removed.connect(on_authenticator_removed, dispatch_uid=f"{uid}.mfa_remove")
    mfa_signals.authenticator_reset.connect(on_authenticator_reset, dispatch_uid=f"{uid}.mfa_reset")
    mfa_signals.authenticator_used.connect(on_authenticator_used, dispatch_uid=f"{uid}.mfa_used")
    account_signals.password_reset.connect(on_password_reset, dispatch_uid=f"{uid}.pw_reset")
    account_signals.password_changed.connect(on_password_changed, dispatch_uid=f"{uid}.pw_change")
    account_signals.password_set.connect(on_password_changed, dispatch_uid=f"{uid}.pw_set")
