"""python manage.py bench [--json] [--scale 0.05] [--keep] [--explain] [--workers 2] [--no-http]

Builds a synthetic clinic in a separate database and measures, in one run:

* ``hello``: the median time of a bare view through the whole stack (a signed-in patient);
* ``worklist`` and ``patient_overview``: queries and median time for a therapist with a small,
  a large and a very large caseload (20, 2,000 and 20,000 patients at scale 1; the same page, the
  same amount of work per patient); for each size also each statement's median milliseconds
  (``statement_ms_small`` ...: ``[label, ms]`` in the order the page runs them) and the audit
  events one request writes (``audit_events_small`` ...: one per patient the page shows);
* ``navigation_count``: the median time of the count of waiting work in the navigation for the
  therapist with the very large caseload;
* ``manager_dashboard``: queries and median time for the manager of the whole clinic, at 5,000
  and (after the clinic grew) 50,000 patients;
* ``floor``: a plain Django page (session and user, Django's own middleware only) beside
  ``hello``, the same with the user's roles loaded, and ``hello`` without each middleware in turn
  (``middleware``: what each one costs);
* ``digest``: one digest round over ``pending`` notifications for ``recipients`` people, with the
  locmem e-mail backend: e-mails sent, notifications delivered, queries per recipient, seconds;
* ``encryption_overhead_pct``: time in AES-GCM as a share of the rest of read-heavy requests;
* ``http``: gunicorn with the production settings and N workers on a loopback port, a fixed
  number of requests from signed-in patients to the bare view and posting diary entries, and the
  floor view served by a second gunicorn with Django's own middleware
  (``--conn-max-age``: persistent database connections, ``DB_CONN_MAX_AGE``). Its cache, sessions
  and Celery broker are files (``"cache": "file"``), or with ``--redis-url`` a Redis database as
  in production (``"cache": "redis"``): one that holds no key (so no real worker uses it),
  emptied afterwards.

``--explain`` prints every page's queries and those that grow with the caseload. The JSON keeps
the keys of earlier runs; ``targets`` says which of the targets are met.

The database is new and separate: on PostgreSQL (``DATABASE_URL``) a database named after the
configured one (``<name>_bench``: ``icbt_bench`` for ``icbt``) is created, migrated and dropped
afterwards (``--keep`` keeps it); on SQLite a temporary file.
The bench uses its own fresh secret key and master key, so it never reads or writes real data.
Progress goes to stderr; with ``--json`` stdout holds the JSON object alone.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone


@dataclass
class Sizes:
    small: int
    large: int
    xlarge: int
    clinic: int
    clinic_large: int
    pending: int
    recipients: int
    requests: int

    @classmethod
    def for_scale(cls, scale: float) -> Sizes:
        """The issue's sizes at scale 1; smaller runs keep every part but shrink the numbers."""
        small = min(20, max(2, round(400 * scale)))
        large = max(round(2000 * scale), 5 * small)
        xlarge = max(round(20_000 * scale), 5 * large)
        clinic = max(round(5000 * scale), small + large)
        return cls(
            small=small,
            large=large,
            xlarge=xlarge,
            clinic=clinic,
            clinic_large=max(round(50_000 * scale), clinic + xlarge),
            pending=max(round(100_000 * scale), 20),
            recipients=max(round(1000 * scale), 2),
            requests=max(round(2000 * scale), 60),
        )


class BenchDatabase:
    """A new database beside the configured one, made and dropped with Django's test-database
    machinery (the same code path as the test runner, so migrations run exactly as in tests)."""

    def __init__(self, *, keep: bool, progress):
        self.connection = connections["default"]
        self.keep = keep
        self.progress = progress
        self.temp_dir = None
        self.old_name = None

    def create(self) -> str:
        settings_dict = self.connection.settings_dict
        vendor = self.connection.vendor
        if vendor == "sqlite":
            self.temp_dir = tempfile.mkdtemp(prefix="icbt-bench-db-")
            name = os.path.join(self.temp_dir, "bench.sqlite3")
        elif vendor == "postgresql":
            # Beside the configured database, named after it: two checkouts with databases of
            # their own can run the bench at the same time.
            name = f"{settings_dict['NAME']}_bench"
        else:
            raise CommandError(f"bench runs on SQLite or PostgreSQL, not {vendor}.")
        if settings_dict["NAME"] == name:
            raise CommandError(f"DATABASE_URL names the bench database {name} itself; the bench drops it.")
        settings_dict.setdefault("TEST", {})
        settings_dict["TEST"] = {**settings_dict["TEST"], "NAME": name}
        self.old_name = settings_dict["NAME"]
        self.progress(f"creating and migrating the bench database ({vendor}: {name})")
        self.connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        return self.url()

    def url(self) -> str:
        """The DATABASE_URL of the bench database, for the gunicorn processes."""
        s = self.connection.settings_dict
        if self.connection.vendor == "sqlite":
            return f"sqlite:///{s['NAME']}"
        auth = quote(s.get("USER") or "", safe="")
        if s.get("PASSWORD"):
            auth += ":" + quote(s["PASSWORD"], safe="")
        host = s.get("HOST") or "127.0.0.1"
        port = f":{s['PORT']}" if s.get("PORT") else ""
        return (
            f"postgres://{auth}@{host}{port}/{s['NAME']}" if auth else f"postgres://{host}{port}/{s['NAME']}"
        )

    def destroy(self):
        connections.close_all()
        name = self.connection.settings_dict["NAME"]
        if self.keep:
            self.progress(f"kept the bench database: {name}")
        self.connection.creation.destroy_test_db(self.old_name, verbosity=0, keepdb=self.keep)
        if self.temp_dir and not self.keep:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


class Command(BaseCommand):
    help = "Measure pages, digests, encryption and HTTP throughput on a synthetic clinic (separate database)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the JSON object alone on stdout.")
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Shrink the sizes (0.05 for a quick run); 1 is the issue's sizes.",
        )
        parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
        parser.add_argument(
            "--explain",
            action="store_true",
            help="Print the queries of each page, and those that grow with the caseload.",
        )
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for the HTTP part.")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=0,
            help="Client threads of the HTTP part (default: 4 per worker).",
        )
        parser.add_argument(
            "--requests",
            type=int,
            default=0,
            help="Requests per HTTP measurement (default: 2000 at scale 1).",
        )
        parser.add_argument("--repeat", type=int, default=11, help="Timed requests per page (the median).")
        parser.add_argument("--no-http", action="store_true", help="Leave out the gunicorn part.")
        parser.add_argument(
            "--redis-url",
            default="",
            help="redis://HOST:PORT/N for the HTTP part's cache, sessions and broker (as in production); "
            "the database must hold no key, and is emptied afterwards.",
        )
        parser.add_argument(
            "--conn-max-age",
            type=int,
            default=60,
            help="DB_CONN_MAX_AGE of the gunicorn processes (0: a new connection per request).",
        )

    def progress(self, message: str) -> None:
        self.stderr.write(f"[bench {time.monotonic() - self.started:6.1f}s] {message}")
        self.stderr.flush()

    def handle(self, *args, **options):
        self.started = time.monotonic()
        scale = options["scale"]
        if not 0 < scale <= 1:
            raise CommandError("--scale must be above 0 and at most 1.")
        sizes = Sizes.for_scale(scale)
        if options["redis_url"] and not options["no_http"]:
            from devtools.bench.load import BenchRedis

            BenchRedis(options["redis_url"]).check_empty()  # before minutes of building the clinic
        if options["requests"]:
            sizes.requests = options["requests"]
        secret_key = secrets.token_urlsafe(50)
        master_key = base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")
        overrides = {
            "SECRET_KEY": secret_key,
            "ICBT_MASTER_KEY": master_key,
            "ICBT_OLD_MASTER_KEYS": [],
            "DEBUG": False,
            "ALLOWED_HOSTS": [*settings.ALLOWED_HOSTS, "testserver"],
            "ROOT_URLCONF": "devtools.bench.urls",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "CACHES": {
                "default": {
                    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                    "LOCATION": "icbt-bench",
                }
            },
            "CELERY_TASK_ALWAYS_EAGER": False,
            # The in-process requests share one connection, as a gunicorn worker's requests do
            # with DB_CONN_MAX_AGE (the gunicorn part's setting, --conn-max-age): statements built
            # once per process are prepared as they are there.
            "ICBT_DB_PREPARE": connections["default"].vendor == "postgresql" and options["conn_max_age"] != 0,
            "ICBT_DIGEST_SEND_PAUSE_MS": 0,
        }
        database = BenchDatabase(keep=options["keep"], progress=self.progress)
        with override_settings(**overrides):
            url = database.create()
            try:
                result = self.measure(
                    sizes, options, database_url=url, secret_key=secret_key, master_key=master_key
                )
            finally:
                database.destroy()
        result["scale"] = scale
        result["database"] = database.connection.vendor
        result["seconds"] = round(time.monotonic() - self.started, 1)
        targets = check_targets(result)
        result["targets"] = targets
        text = json.dumps(result, indent=None if options["json"] else 2)
        self.stdout.write(text)
        missed = [name for name, ok in targets.items() if ok is False]
        self.progress("targets missed: " + ", ".join(missed) if missed else "every target met")

    # --- The measurements ---------------------------------------------------------------------

    def measure(self, sizes: Sizes, options, *, database_url, secret_key, master_key) -> dict:
        from devtools.bench import data, measure

        repeat = options["repeat"]
        self.progress(
            f"building the clinic: {sizes.clinic} patients ({sizes.small} and {sizes.large} for the "
            "two therapists compared)"
        )
        world = data.build_clinic(
            small=sizes.small, large=sizes.large, total=sizes.clinic, progress=self.progress
        )
        result = {}

        patient = world.patients[world.therapist_small.pk][0]
        patient_client = measure.signed_in_client(patient.user)
        hello = measure.time_page(patient_client, "/bench/hello", repeat=max(repeat, 51))
        result["hello"] = {"ms": round(hello.ms, 2), "queries": hello.queries}
        self.progress(f"hello: {hello.ms:.1f} ms, {hello.queries} queries")
        pages = {"hello": (hello, hello)}
        result["floor"], result["middleware"] = self.stack(patient.user, hello, repeat=max(repeat, 51))

        manager_client = measure.signed_in_client(world.manager.user)
        dashboard = measure.time_page(
            manager_client, reverse("therapists:dashboard"), repeat=max(3, repeat // 2)
        )
        patients_at_first = world.patient_count
        self.progress(
            f"manager_dashboard at {patients_at_first}: {dashboard.queries} queries, {dashboard.ms:.1f} ms"
        )
        self.progress(
            f"growing the clinic to {sizes.clinic_large} patients ({sizes.xlarge} for one therapist)"
        )
        data.grow_clinic(world, xlarge=sizes.xlarge, total=sizes.clinic_large, progress=self.progress)

        small_client = measure.signed_in_client(world.therapist_small.user)
        large_client = measure.signed_in_client(world.therapist_large.user)
        xlarge_client = measure.signed_in_client(world.therapist_xlarge.user)
        for key, url_for in (
            ("worklist", lambda staff: reverse("therapists:worklist")),
            (
                "patient_overview",
                lambda staff: reverse(
                    "patients:staff_patient_detail", kwargs={"pk": world.patients[staff.pk][0].pk}
                ),
            ),
        ):
            small = measure.time_page(small_client, url_for(world.therapist_small), repeat=repeat)
            large = measure.time_page(large_client, url_for(world.therapist_large), repeat=repeat)
            xlarge = measure.time_page(xlarge_client, url_for(world.therapist_xlarge), repeat=repeat)
            pages[key] = (small, xlarge)
            result[key] = {
                "patients_small": sizes.small,
                "patients_large": sizes.large,
                "patients_xlarge": sizes.xlarge,
                "queries_small": small.queries,
                "queries_large": large.queries,
                "queries_xlarge": xlarge.queries,
                "ms_small": round(small.ms, 1),
                "ms_large": round(large.ms, 1),
                "ms_xlarge": round(xlarge.ms, 1),
                "stack_queries": large.stack_queries,
            }
            # Where the time of each size goes, statement by statement, and how many audit
            # events (one per patient shown) each size writes: measured after the timings.
            for size, client, staff in (
                ("small", small_client, world.therapist_small),
                ("large", large_client, world.therapist_large),
                ("xlarge", xlarge_client, world.therapist_xlarge),
            ):
                result[key][f"statement_ms_{size}"] = measure.statement_medians(
                    client, url_for(staff), repeat=max(repeat, 21)
                )
                result[key][f"audit_events_{size}"] = measure.audit_events_written(client, url_for(staff))
            self.progress(
                f"{key}: {small.queries}/{large.queries}/{xlarge.queries} queries, "
                f"{small.ms:.1f}/{large.ms:.1f}/{xlarge.ms:.1f} ms; audit events "
                f"{result[key]['audit_events_small']}/{result[key]['audit_events_large']}/"
                f"{result[key]['audit_events_xlarge']}"
            )
            for size in ("small", "xlarge"):
                statements = ", ".join(f"{label} {ms}" for label, ms in result[key][f"statement_ms_{size}"])
                self.progress(f"{key} statements ({size}, ms): {statements}")
        result["navigation_count"] = measure.navigation_count(world.therapist_xlarge, repeat=max(repeat, 51))
        self.progress(f"navigation count at {sizes.xlarge} patients: {result['navigation_count']}")

        dashboard_large = measure.time_page(
            manager_client, reverse("therapists:dashboard"), repeat=max(3, repeat // 2)
        )
        pages["manager_dashboard"] = (dashboard, dashboard_large)
        result["manager_dashboard"] = {
            "patients": patients_at_first,
            "queries": dashboard.queries,
            "ms": round(dashboard.ms, 1),
            "stack_queries": dashboard.stack_queries,
            "patients_large": world.patient_count,
            "queries_large": dashboard_large.queries,
            "ms_large": round(dashboard_large.ms, 1),
        }
        self.progress(
            f"manager_dashboard at {world.patient_count}: {dashboard_large.queries} queries, "
            f"{dashboard_large.ms:.1f} ms"
        )

        self.progress("encryption: the staff conversation and the patient's own messages of a long history")
        rich = world.rich_patient
        encryption = measure.encryption_overhead(
            [
                (small_client, reverse("messaging:staff_conversation", kwargs={"pk": rich.pk})),
                (measure.signed_in_client(rich.user), reverse("messaging:patient_conversation")),
            ],
            repeat=repeat,
        )
        result["encryption_overhead_pct"] = encryption["pct"]
        result["encryption"] = encryption
        self.progress(f"encryption: {encryption['pct']} % (A/B {encryption['ab_pct']} %)")

        self.progress(f"digest: building {sizes.pending} pending notifications for {sizes.recipients} people")
        data.build_notifications(world, pending=sizes.pending, recipients=sizes.recipients)
        self.progress("digest: one round")
        result["digest"] = measure.digest_round_measured()
        self.progress(f"digest: {result['digest']}")

        # After the digest: a diary entry makes its patient active, which rightly drops that
        # patient's pending reminders from the digest.
        diary_submit = measure.time_page(
            patient_client,
            reverse("patients:diary_write", args=[world.diary_type.slug]),
            method="post",
            data=data.diary_post_data(world.diary_type, timezone.localdate()),
            expect=(302,),
            repeat=repeat,
        )
        result["diary_submit"] = {"ms": round(diary_submit.ms, 2), "queries": diary_submit.queries}
        self.progress(f"diary submit (in process): {diary_submit.ms:.1f} ms, {diary_submit.queries} queries")
        pages["diary_submit"] = (diary_submit, diary_submit)
        if options["explain"]:
            self.explain(pages)

        if options["no_http"]:
            result["http"] = None
        else:
            result["http"] = self.http(
                world, sizes, options, database_url=database_url, secret_key=secret_key, master_key=master_key
            )
        return result

    def stack(self, user, hello, *, repeat: int) -> tuple[dict, dict]:
        """The floor (a plain Django page with Django's own middleware), the floor with the
        user's roles, and ``hello`` without each middleware of the project's stack in turn."""
        from devtools.bench import measure
        from devtools.bench.urls import FLOOR_MIDDLEWARE

        with override_settings(MIDDLEWARE=FLOOR_MIDDLEWARE):
            floor = measure.time_page(measure.signed_in_client(user), "/bench/floor", repeat=repeat)
            roles = measure.time_page(measure.signed_in_client(user), "/bench/floor-roles", repeat=repeat)
        result = {
            "ms": round(floor.ms, 2),
            "queries": floor.queries,
            "roles_ms": round(roles.ms, 2),
            "roles_queries": roles.queries,
            "hello_over_floor": round(hello.ms / floor.ms, 2),
        }
        self.progress(f"floor: {floor.ms:.1f} ms ({floor.queries} queries), with roles {roles.ms:.1f} ms")
        without = {}
        for name in settings.MIDDLEWARE:
            with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != name]):
                try:
                    page = measure.time_page(measure.signed_in_client(user), "/bench/hello", repeat=repeat)
                except Exception as error:  # noqa: BLE001 - a middleware others depend on
                    without[name] = {"error": type(error).__name__}
                    continue
            without[name] = {
                "ms_without": round(page.ms, 2),
                "saves_ms": round(hello.ms - page.ms, 2),
                "saves_queries": hello.queries - page.queries,
            }
        self.progress("middleware: " + ", ".join(f"{n.rsplit('.', 1)[-1]} {v}" for n, v in without.items()))
        return result, without

    def explain(self, pages) -> None:
        from devtools.bench.measure import growing_queries

        for key, (small, large) in pages.items():
            self.stderr.write(
                f"\n== {key} ({large.url}): {large.queries} queries, {sum(large.sql_ms):.1f} ms in SQL "
                f"(request median {large.ms:.1f} ms)"
            )
            for number, (sql, ms) in enumerate(zip(large.sql, large.sql_ms, strict=True), start=1):
                self.stderr.write(f"  {number:2}. [{ms:7.1f} ms] {sql[:400]}")
            if small is not large:
                grown = growing_queries(small, large)
                self.stderr.write(f"== {key}: queries that grow with the caseload: {len(grown) or 'none'}")
                for extra, sql in grown:
                    self.stderr.write(f"  +{extra} x {sql[:400]}")

    def http(self, world, sizes: Sizes, options, *, database_url, secret_key, master_key) -> dict:
        from devtools.bench import data, load

        workers = options["workers"]
        concurrency = options["concurrency"] or 4 * workers
        patients = [p for staff in world.therapists for p in world.patients.get(staff.pk, [])]
        count = min(len(patients), max(10, sizes.requests // 10))
        sessions = load.patient_sessions([p.user for p in patients[: count + 10]])
        warm, sessions = sessions[:10], sessions[10:] or sessions[:10]
        today = timezone.localdate()
        diary = world.diary_type
        path = reverse("patients:diary_write", args=[diary.slug])
        location = reverse("patients:diary_detail", args=[diary.slug])
        self.progress(
            f"http: gunicorn with {workers} workers, {concurrency} client threads, {len(sessions)} "
            f"signed-in patients, {sizes.requests} requests per measurement"
        )
        server_options = {
            "database_url": database_url,
            "secret_key": secret_key,
            "master_key": master_key,
            "workers": workers,
            "progress": self.progress,
            "conn_max_age": options["conn_max_age"],
        }
        redis = load.BenchRedis(options["redis_url"]) if options["redis_url"] else None
        if redis is not None:
            server_options["redis_url"] = redis.url
            self.progress(f"http: cache, sessions and broker on Redis ({redis.safe_url})")
        with load.redis_claimed(redis):
            floor, hello, diary_run = self.http_runs(
                server_options,
                warm=warm,
                sessions=sessions,
                requests=sizes.requests,
                concurrency=concurrency,
                diary_requests=lambda chosen, count: load.diary_requests(
                    chosen,
                    path=path,
                    data_for=lambda i: data.diary_post_data(diary, today, i),
                    count=count,
                    location=location,
                ),
            )
        return {
            "workers": workers,
            "concurrency": concurrency,
            "patients": len(sessions),
            "requests": sizes.requests,
            "cache": "file" if redis is None else "redis",
            "hello_rps": hello["rps"],
            "diary_submit_rps": diary_run["rps"],
            "hello_median_ms": hello["median_ms"],
            "diary_submit_median_ms": diary_run["median_ms"],
            "errors": hello["errors"] + diary_run["errors"],
            "statuses": {"hello": hello["statuses"], "diary_submit": diary_run["statuses"]},
            "floor_rps": floor["rps"],
            "floor_median_ms": floor["median_ms"],
            "floor_errors": floor["errors"],
            "conn_max_age": options["conn_max_age"],
        }

    def http_runs(self, server_options, *, warm, sessions, requests, concurrency, diary_requests):
        """The floor, hello and diary loads (each as ``load.run_load`` reports it)."""
        from devtools.bench import load

        workers = server_options["workers"]
        with load.Gunicorn(app="devtools.bench.wsgi_floor:application", **server_options) as server:
            load.run_load(
                server.port,
                load.hello_requests(warm, count=4 * workers, path="/bench/floor"),
                concurrency=concurrency,
                time_limit=60,
            )
            floor = load.run_load(
                server.port,
                load.hello_requests(sessions, count=requests, path="/bench/floor"),
                concurrency=concurrency,
                time_limit=300,
            )
            self.progress(f"http floor: {floor}")
        with load.Gunicorn(**server_options) as server:
            warmup = load.hello_requests(warm, count=4 * workers) + diary_requests(warm, 4 * workers)
            load.run_load(server.port, warmup, concurrency=concurrency, time_limit=60)
            hello = load.run_load(
                server.port,
                load.hello_requests(sessions, count=requests),
                concurrency=concurrency,
                time_limit=300,
            )
            self.progress(f"http hello: {hello}")
            diary_run = load.run_load(
                server.port,
                diary_requests(sessions, requests),
                concurrency=concurrency,
                time_limit=300,
            )
            self.progress(f"http diary: {diary_run}")
        return floor, hello, diary_run


def check_targets(result: dict) -> dict:
    """The issue's targets, each True, False, or None when not measured."""
    targets = {}
    for key in ("worklist", "patient_overview"):
        page = result[key]
        targets[f"{key}_queries_constant"] = page["queries_small"] == page["queries_large"]
        targets[f"{key}_queries_at_most_15"] = page["queries_large"] <= 15
        targets[f"{key}_time_ratio_at_most_2"] = page["ms_large"] <= 2 * page["ms_small"]
    targets["dashboard_queries_at_most_20"] = result["manager_dashboard"]["queries"] <= 20
    digest = result["digest"]
    targets["digest_one_email_per_recipient_all_delivered"] = (
        digest["emails"] == digest["recipients"]
        and digest["one_email_each"]
        and digest["delivered"] == digest["pending"]
    )
    targets["encryption_at_most_5_pct"] = result["encryption_overhead_pct"] <= 5
    http = result.get("http")
    targets["diary_submit_rps_at_least_30_pct_of_hello"] = (
        None if not http else http["errors"] == 0 and http["diary_submit_rps"] >= 0.3 * http["hello_rps"]
    )
    targets.update(flat_page_targets(result))
    return targets


def _ratio_at_most(numerator: float, denominator: float, limit: float) -> bool:
    return numerator <= limit * denominator


def flat_page_targets(result: dict) -> dict:
    """The targets of pages that stay flat as a clinic grows (ratios within one run)."""
    targets = {}
    for key in ("worklist", "patient_overview"):
        page = result[key]
        counts = {page["queries_small"], page["queries_large"], page["queries_xlarge"]}
        targets[f"{key}_queries_at_most_8_equal_at_every_size"] = len(counts) == 1 and max(counts) <= 8
        targets[f"{key}_ms_2000_over_20_at_most_1_3"] = _ratio_at_most(
            page["ms_large"], page["ms_small"], 1.3
        )
        targets[f"{key}_ms_20000_over_20_at_most_1_5"] = _ratio_at_most(
            page["ms_xlarge"], page["ms_small"], 1.5
        )
    targets["worklist_at_20_at_most_4_x_hello"] = _ratio_at_most(
        result["worklist"]["ms_small"], result["hello"]["ms"], 4
    )
    targets["navigation_count_at_most_2_ms"] = result["navigation_count"]["ms"] <= 2
    dashboard = result["manager_dashboard"]
    targets["dashboard_queries_at_most_20_at_both_sizes"] = (
        max(dashboard["queries"], dashboard["queries_large"]) <= 20
    )
    targets["dashboard_ms_50000_over_5000_at_most_2"] = _ratio_at_most(
        dashboard["ms_large"], dashboard["ms"], 2
    )
    digest = result["digest"]
    targets["digest_at_most_5_queries_per_recipient"] = digest["queries_per_recipient"] <= 5
    targets["digest_at_most_20_s"] = digest["s"] <= 20
    http = result.get("http")
    targets["hello_rps_at_least_60_pct_of_floor"] = (
        None if not http else http["floor_errors"] == 0 and http["hello_rps"] >= 0.6 * http["floor_rps"]
    )
    targets["diary_submit_rps_at_least_50_pct_of_hello"] = (
        None if not http else http["errors"] == 0 and http["diary_submit_rps"] >= 0.5 * http["hello_rps"]
    )
    return targets
