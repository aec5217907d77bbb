"""In-process measurements: pages through Django's test client, the digest round, encryption.

Every page is requested a few times first (templates compiled, caches warm), then once while
its queries are captured, then ``repeat`` times for the median time. Times are wall-clock
milliseconds of the whole request through the middleware stack (session, authentication, the
MFA gate, the request transaction, the audit trail), as the test client runs it in process.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from icbt import crypto


@dataclass
class PageTiming:
    url: str
    status: int
    queries: int
    ms: float
    sql: list[str] = field(default_factory=list, repr=False)
    sql_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def stack_queries(self) -> int:
        """Statements of the stack rather than the view: the session, the user with their roles,
        the MFA check, and BEGIN/COMMIT of the request transaction."""
        return sum(1 for q in self.sql if STACK_SQL.match(q))


STACK_SQL = re.compile(
    r'^(BEGIN|COMMIT|SELECT .* FROM "django_session" |SELECT .* FROM "icbt_user" LEFT OUTER JOIN '
    r'"therapists_staffmember"|SELECT 1 AS "a" FROM "mfa_authenticator" )'
)


def signed_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def time_page(
    client: Client,
    url: str,
    *,
    repeat: int,
    warmup: int = 2,
    method: str = "get",
    data: dict | None = None,
    expect=(200,),
) -> PageTiming:
    """Median milliseconds of ``repeat`` requests, and the queries of one of them."""
    send = getattr(client, method)
    for _ in range(warmup):
        response = send(url, data or {})
        _check(url, response, expect)
    with CaptureQueriesContext(connection) as captured:
        response = send(url, data or {})
    # Read them now: the next request clears the connection's query log.
    sql = [q["sql"] for q in captured.captured_queries]
    sql_ms = [float(q["time"]) * 1000 for q in captured.captured_queries]
    _check(url, response, expect)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = send(url, data or {})
        samples.append((time.perf_counter() - started) * 1000)
        _check(url, response, expect)
    return PageTiming(url, response.status_code, len(sql), statistics.median(samples), sql, sql_ms)


def _check(url, response, expect):
    if response.status_code not in expect:
        raise RuntimeError(f"bench: {url} answered {response.status_code}, expected {expect}")


_NUMBERS = re.compile(r"\b\d+\b|'[^']*'")
_IN_LIST = re.compile(r"IN \((?:\?, )*\?\)")


def _shape(sql: str) -> str:
    """The query with its literals and IN lists folded, to compare two runs query by query."""
    return _IN_LIST.sub("IN (...)", _NUMBERS.sub("?", sql))


_TOKENS = re.compile(r"'(?:[^']|'')*'|\(|\)|(?:\bFROM|\bINTO|^UPDATE)\s+\"(\w+)\"")


def _label(sql: str) -> str:
    """A statement's verb and main table (the first named outside parentheses, else the first
    named): ``SELECT icbt_user``, ``INSERT icbt_auditevent``."""
    words = sql.split(None, 1)
    verb = words[0].lstrip("(").upper() if words else ""
    depth, first, main = 0, None, None
    for token in _TOKENS.finditer(sql.strip()):
        text = token.group(0)
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif token.group(1):
            first = first or token.group(1)
            if depth == 0:
                main = token.group(1)
                break
    table = main or first
    return f"{verb} {table}" if table else verb


def statement_medians(client: Client, url: str, *, repeat: int) -> list[list]:
    """``[label, median ms]`` of each statement of a page, in the order the page runs them, over
    ``repeat`` requests. Measured apart from ``time_page``'s timings: timing every statement
    costs time of its own. Requests that ran a different number of statements than most are
    left out (none should)."""
    runs: list[list[tuple[str, float]]] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            runs[-1].append((_label(sql), (time.perf_counter() - started) * 1000))

    for _ in range(repeat):
        runs.append([])
        with connection.execute_wrapper(timed):
            response = client.get(url)
        _check(url, response, (200,))
    length = Counter(len(run) for run in runs).most_common(1)[0][0]
    kept = [run for run in runs if len(run) == length]
    return [[kept[0][i][0], round(statistics.median(run[i][1] for run in kept), 3)] for i in range(length)]


def audit_events_written(client: Client, url: str) -> int:
    """How many audit events one request of ``url`` writes (one per patient a list shows)."""
    from django.db.models import Max

    from icbt.models import AuditEvent

    def last_id() -> int:
        return AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0

    before = last_id()
    _check(url, client.get(url), (200,))
    return last_id() - before


def growing_queries(small: PageTiming, large: PageTiming) -> list[tuple[int, str]]:
    """Query shapes that the large case runs more often than the small one: (extra runs, sql)."""
    extra = Counter(_shape(q) for q in large.sql)
    extra.subtract(Counter(_shape(q) for q in small.sql))
    return sorted(((n, sql) for sql, n in extra.items() if n > 0), reverse=True)


def navigation_count(staff, *, repeat: int) -> dict:
    """The median milliseconds and the queries of the navigation's count of waiting work
    (``messaging.pending.pending_count``) for ``staff``."""
    from messaging.pending import pending_count

    with CaptureQueriesContext(connection) as captured:
        count = pending_count(staff=staff)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        pending_count(staff=staff)
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "ms": round(statistics.median(samples), 3),
        "queries": len(captured.captured_queries),
        "count": count,
    }


class QueryCounter:
    """An ``execute_wrapper`` that counts every statement (no 9000-query log limit)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


# --- The digest round -------------------------------------------------------------------------


def digest_round_measured() -> dict:
    """One digest round for everybody, with e-mail on the locmem backend (the caller sets it)."""
    from icbt.models import Notification
    from messaging.notifications.digests import digest_round

    pending = Notification.objects.filter(state=Notification.State.PENDING).count()
    recipients = (
        Notification.objects.filter(state=Notification.State.PENDING).values("recipient").distinct().count()
    )
    mail.outbox = []
    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        report = digest_round(time_budget=None)
    seconds = time.perf_counter() - started
    sent_to = Counter(address for message in mail.outbox for address in message.to)
    delivered = Notification.objects.filter(state=Notification.State.SENT).count()
    return {
        "pending": pending,
        "recipients": recipients,
        "emails": len(mail.outbox),
        "delivered": delivered,
        "dropped": report.dropped,
        "failed": report.failed,
        "left_pending": Notification.objects.filter(state=Notification.State.PENDING).count(),
        "one_email_each": len(sent_to) == recipients and set(sent_to.values()) == {1},
        "queries_per_recipient": round(counter.count / max(1, recipients), 2),
        "s": round(seconds, 2),
    }


# --- Encryption -------------------------------------------------------------------------------


class CryptoTimer:
    """Wraps ``icbt.crypto.encrypt`` and ``decrypt`` (the only way ``EncryptedTextField`` reaches
    AES-GCM) and adds up the time spent in them."""

    def __init__(self):
        self.seconds = 0.0
        self.calls = 0
        self._originals: dict[str, Callable] = {}

    def __enter__(self):
        for name in ("encrypt", "decrypt"):
            original = getattr(crypto, name)
            self._originals[name] = original
            setattr(crypto, name, self._timed(original))
        return self

    def __exit__(self, *exc):
        for name, original in self._originals.items():
            setattr(crypto, name, original)

    def _timed(self, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        return timed


class PlaintextPath:
    """Replaces ``crypto.decrypt`` by a dictionary lookup of the plaintext (filled from real
    decryptions first): the request does everything it did, except AES-GCM and key look-ups."""

    def __init__(self):
        self.known: dict[tuple[str, str], str] = {}
        self._original = None

    def learn(self):
        original = crypto.decrypt

        def learning(token, *, associated_data):
            text = original(token, associated_data=associated_data)
            self.known[(token, associated_data)] = text
            return text

        return _Patch("decrypt", learning)

    def __enter__(self):
        self._original = crypto.decrypt
        known = self.known
        crypto.decrypt = lambda token, *, associated_data: known[(token, associated_data)]
        return self

    def __exit__(self, *exc):
        crypto.decrypt = self._original


class _Patch:
    def __init__(self, name, replacement):
        self.name, self.replacement = name, replacement

    def __enter__(self):
        self.original = getattr(crypto, self.name)
        setattr(crypto, self.name, self.replacement)

    def __exit__(self, *exc):
        setattr(crypto, self.name, self.original)


def encryption_overhead(pages: list[tuple[Client, str]], *, repeat: int) -> dict:
    """The cost of encryption on read-heavy pages, two ways.

    * ``pct`` (the figure reported): time inside ``crypto.encrypt``/``decrypt`` as a share of
      the rest of the request (``crypto / (total - crypto)``), summed over ``repeat`` requests of
      every page. Stable on a busy machine, because both parts come from the same requests.
    * ``ab_pct``: the median request time with real decryption against the same requests with
      decryption replaced by a dictionary lookup of the plaintext. Direct, but within the noise
      of a shared machine when the overhead is a few per cent.
    """
    for client, url in pages:
        _check(url, client.get(url), (200,))
    total = crypto_seconds = 0.0
    calls = 0
    real_samples, plain_samples = [], []
    plaintext = PlaintextPath()
    for client, url in pages:
        with plaintext.learn():
            client.get(url)
        for _ in range(repeat):
            with CryptoTimer() as timer:
                started = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - started
            _check(url, response, (200,))
            total += elapsed
            crypto_seconds += timer.seconds
            calls += timer.calls
            real_samples.append(elapsed)
            with plaintext:
                started = time.perf_counter()
                response = client.get(url)
                plain_samples.append(time.perf_counter() - started)
            _check(url, response, (200,))
    rest = max(total - crypto_seconds, 1e-9)
    real, plain = statistics.median(real_samples), statistics.median(plain_samples)
    return {
        "pct": round(100 * crypto_seconds / rest, 2),
        "ab_pct": round(100 * (real - plain) / plain, 2),
        "crypto_calls_per_request": round(calls / (repeat * len(pages)), 1),
        "crypto_ms_per_request": round(1000 * crypto_seconds / (repeat * len(pages)), 3),
        "request_ms": round(1000 * total / (repeat * len(pages)), 2),
        "pages": [url for _client, url in pages],
    }
