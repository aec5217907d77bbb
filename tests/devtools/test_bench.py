"""``manage.py bench`` at a tiny scale: one JSON object on stdout with every figure of the benchmark, the
query counts equal for the small and the large caseload, every notification delivered in one
e-mail per person, and the HTTP part answering without errors. Runs the command in its own
process (its own bench database on SQLite, a temporary file), so the test database is untouched."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def test_bench_prints_every_figure_and_the_queries_do_not_grow():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(  # noqa: S603 - our interpreter and manage.py
        [
            sys.executable,
            "manage.py",
            "bench",
            "--json",
            "--scale",
            "0.002",
            "--requests",
            "30",
            "--repeat",
            "3",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)

    assert figures["hello"]["ms"] > 0
    for page in ("worklist", "patient_overview"):
        keys = {"patients_small", "patients_large", "queries_small", "queries_large", "ms_small", "ms_large"}
        assert keys <= set(figures[page])
        assert figures[page]["patients_small"] < figures[page]["patients_large"]
        assert figures[page]["queries_small"] == figures[page]["queries_large"], figures[page]
    assert {"patients", "queries", "ms"} <= set(figures["manager_dashboard"])
    digest = figures["digest"]
    assert {"pending", "recipients", "emails", "queries_per_recipient", "s"} <= set(digest)
    assert digest["emails"] == digest["recipients"] > 0
    assert digest["delivered"] == digest["pending"] > 0
    assert digest["one_email_each"] is True
    assert 0 <= figures["encryption_overhead_pct"] < 100
    http = figures["http"]
    assert {"workers", "hello_rps", "diary_submit_rps", "errors"} <= set(http)
    assert http["errors"] == 0, http
    assert http["hello_rps"] > 0 and http["diary_submit_rps"] > 0
    assert set(figures["targets"]) >= {
        "worklist_queries_constant",
        "digest_one_email_per_recipient_all_delivered",
    }
