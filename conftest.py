"""Loaded before Django's settings: the test process runs with test-only settings."""

import os

os.environ.setdefault("ICBT_TESTING", "true")
os.environ.setdefault("DJANGO_DEBUG", "true")
# A fixed master key for tests only (Fernet.generate_key() format); never used elsewhere.
os.environ.setdefault("ICBT_MASTER_KEY", "dGVzdC1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhISE=")
os.environ.setdefault("ICBT_VAR_DIR", os.path.join(os.path.dirname(__file__), "var", "test"))
