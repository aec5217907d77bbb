"""Test-only environment, loaded as a pytest plugin (``-p tests._env`` in pyproject.toml) so it
runs before pytest-django imports the settings: conftest files load too late for that."""

import os
from pathlib import Path

os.environ.setdefault("ICBT_TESTING", "true")
os.environ.setdefault("DJANGO_DEBUG", "true")
# A fixed master key for tests only (Fernet.generate_key() format); never used elsewhere.
os.environ.setdefault("ICBT_MASTER_KEY", "dGVzdC1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhISE=")
os.environ.setdefault("ICBT_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
# The suite keeps one database connection per process, as a worker with DB_CONN_MAX_AGE does:
# the SQL built once per process is prepared as it is there (icbt.shaped_sql).
os.environ.setdefault("DB_PREPARED_STATEMENTS", "true")
