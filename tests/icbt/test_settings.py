"""Settings come from the environment. Each case starts a fresh Python process with exactly the
variables it names, because settings are read once at start-up."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from icbt.env import env_bool, env_int, env_list, env_secret

PROJECT = Path(__file__).resolve().parents[2]
MASTER_KEY = "dGVzdC1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhISE="
PRINT_SETTING = "import django; django.setup(); from django.conf import settings; print(settings.{})"
OUR_PREFIXES = ("DJANGO_", "ICBT_", "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "CELERY_", "DB_CONN_MAX_AGE")


def _run(args, tmp_path, **env):
    """Run ``python <args>`` in the project with only the given icbt/Django variables set."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(OUR_PREFIXES)}
    base.update({"DJANGO_SETTINGS_MODULE": "icbt.settings", "ICBT_VAR_DIR": str(tmp_path / "var")})
    base.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT, env=base, capture_output=True, text=True, timeout=120
    )


def _setup(tmp_path, setting="DEBUG", **env):
    return _run(["-c", PRINT_SETTING.format(setting)], tmp_path, **env)


def _production_env(**overrides):
    env = {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "ICBT_MASTER_KEY": MASTER_KEY,
        "DJANGO_ALLOWED_HOSTS": "icbt.example",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_no_variables_at_all_runs_on_embedded_defaults(tmp_path):
    result = _setup(tmp_path, "DATABASES['default']['ENGINE']")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.sqlite3"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _setup(tmp_path, **_production_env(DJANGO_SECRET_KEY=None))
    assert result.returncode != 0
    assert (
        "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) is required when DJANGO_DEBUG=false" in result.stderr
    )


def test_production_refuses_to_start_without_a_master_key(tmp_path):
    result = _setup(tmp_path, **_production_env(ICBT_MASTER_KEY=None))
    assert result.returncode != 0
    assert "ICBT_MASTER_KEY (or ICBT_MASTER_KEY_FILE) is required when DJANGO_DEBUG=false" in result.stderr


def test_debug_must_be_true_or_false(tmp_path):
    result = _setup(tmp_path, DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be true or false, not 'maybe'" in result.stderr


def test_the_secret_key_is_read_from_a_file(tmp_path):
    key = secrets.token_urlsafe(50)
    key_file = tmp_path / "secret_key"
    key_file.write_text(key + "\n")
    result = _setup(
        tmp_path,
        "SECRET_KEY",
        **_production_env(DJANGO_SECRET_KEY=None, DJANGO_SECRET_KEY_FILE=str(key_file)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key


def test_the_master_key_is_read_from_a_file(tmp_path):
    key_file = tmp_path / "master_key"
    key_file.write_text(MASTER_KEY)
    result = _setup(
        tmp_path,
        "ICBT_MASTER_KEY",
        **_production_env(ICBT_MASTER_KEY=None, ICBT_MASTER_KEY_FILE=str(key_file)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == MASTER_KEY


def test_a_missing_secret_file_stops_start_up(tmp_path):
    result = _setup(
        tmp_path, **_production_env(DJANGO_SECRET_KEY=None, DJANGO_SECRET_KEY_FILE=str(tmp_path / "nowhere"))
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY_FILE: cannot read" in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **_production_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_are_strict(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS >= 31536000, s.ALLOWED_HOSTS)"
    )
    result = _run(["-c", code], tmp_path, **_production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True True True True ['icbt.example']"


@pytest.mark.parametrize(
    "key",
    ["change-me", "CHANGE-ME", "django-insecure-" + "x" * 60, "short-but-random-Q7x", "a" * 80],
)
def test_production_refuses_placeholder_and_short_secret_keys(tmp_path, key):
    result = _setup(tmp_path, **_production_env(DJANGO_SECRET_KEY=key))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is a placeholder or too short" in result.stderr


def test_production_cookies_carry_the_host_prefix_and_messages_stay_on_the_server(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.ICBT_CONFIRMATION_COOKIE_NAME, "
        "s.ICBT_LOCAL_COPIES_COOKIE_NAME, s.MESSAGE_STORAGE.rsplit('.', 1)[-1])"
    )
    result = _run(["-c", code], tmp_path, **_production_env())
    assert result.returncode == 0, result.stderr
    # Messages in the session; only fixed confirmations (a code) and confirmed copy ids in
    # short-lived cookies bound to the session (icbt.flash).
    assert result.stdout.split() == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "__Host-confirmed",
        "__Host-copies",
        "ConfirmationStorage",
    ]


def test_behind_a_proxy_the_proxy_must_be_named(tmp_path):
    refused = _setup(tmp_path, **_production_env(DJANGO_BEHIND_PROXY="true"))
    assert refused.returncode != 0 and "DJANGO_TRUSTED_PROXIES" in refused.stderr
    bad = _setup(tmp_path, **_production_env(DJANGO_BEHIND_PROXY="true", DJANGO_TRUSTED_PROXIES="proxy"))
    assert bad.returncode != 0 and "'proxy' is not an address" in bad.stderr
    named = _setup(
        tmp_path,
        "ICBT_TRUSTED_PROXIES",
        **_production_env(DJANGO_BEHIND_PROXY="true", DJANGO_TRUSTED_PROXIES="172.28.0.10"),
    )
    assert named.returncode == 0, named.stderr
    assert named.stdout.strip() == "['172.28.0.10']"


# --- the helpers themselves (in this process) -------------------------------------------------


@pytest.mark.parametrize(
    "value, expected", [("true", True), ("FALSE", False), ("1", True), ("off", False), ("", True)]
)
def test_env_bool_reads_clear_values(value, expected, monkeypatch):
    monkeypatch.setenv("ICBT_SOME_FLAG", value)
    assert env_bool("ICBT_SOME_FLAG", True) is expected


@pytest.mark.parametrize("value", ["maybe", "ja", "2", "tru"])
def test_env_bool_refuses_anything_else(value, monkeypatch):
    monkeypatch.setenv("ICBT_SOME_FLAG", value)
    with pytest.raises(ImproperlyConfigured, match="ICBT_SOME_FLAG must be true or false"):
        env_bool("ICBT_SOME_FLAG", False)


def test_env_int_refuses_words(monkeypatch):
    monkeypatch.setenv("ICBT_SOME_NUMBER", "thirty")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("ICBT_SOME_NUMBER", 30)


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("ICBT_SOME_LIST", " a.example, b.example ,,")
    assert env_list("ICBT_SOME_LIST", []) == ["a.example", "b.example"]


def test_env_secret_refuses_both_value_and_file(monkeypatch, tmp_path):
    (tmp_path / "s").write_text("from-file")
    monkeypatch.setenv("ICBT_SOME_SECRET", "direct")
    monkeypatch.setenv("ICBT_SOME_SECRET_FILE", str(tmp_path / "s"))
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("ICBT_SOME_SECRET")
    monkeypatch.delenv("ICBT_SOME_SECRET")
    assert env_secret("ICBT_SOME_SECRET") == "from-file"


def test_a_fresh_clone_opens_its_database_and_folders_without_var(tmp_path):
    """`make run` on a fresh clone: no var/ yet. The settings make every local folder the
    embedded defaults use, so migrate opens the SQLite file whatever runs first."""
    result = _run(["manage.py", "migrate", "--plan", "--noinput"], tmp_path)
    assert result.returncode == 0, result.stderr
    var = tmp_path / "var"
    assert (var / "icbt.sqlite3").is_file()
    for folder in ("cache", "mail", "celery/queue", "celery/processed", "celery/control"):
        assert (var / folder).is_dir(), folder


def test_kombu_keeps_its_files_in_var_and_names_a_host(tmp_path):
    result = _run(
        [
            "-c",
            "import django; django.setup(); from icbt.celery import app; c = app.connection(); "
            "c.ensure_connection(max_retries=1); c.info(); "
            "print(c.transport_options['control_folder']); c.release()",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "var" / "celery" / "control")
    assert "No hostname was supplied" not in result.stderr + result.stdout
    assert not (PROJECT / "control").exists()


def test_email_links_follow_the_port_make_run_serves(tmp_path):
    assert _setup(tmp_path, "SITE_URL", PORT="8611").stdout.strip() == "http://127.0.0.1:8611"
    assert _setup(tmp_path, "SITE_URL").stdout.strip() == "http://127.0.0.1:8000"
    chosen = _setup(tmp_path, "SITE_URL", PORT="8611", ICBT_SITE_URL="https://icbt.example/")
    assert chosen.stdout.strip() == "https://icbt.example"


def test_the_dev_server_hands_its_port_to_the_worker():
    script = (PROJECT / "bin" / "dev-server").read_text()
    assert 'export PORT="${PORT:-8000}"' in script
    assert script.index("export PORT") < script.index("celery -A icbt worker")


def test_the_package_declares_its_licence_the_current_way():
    import tomllib

    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    # A SPDX string (PEP 639): the table form makes setuptools warn at every install.
    assert project["project"]["license"] == "AGPL-3.0-or-later"
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])
    # An editable install of a project whose name is also a folder (icbt/) makes setuptools warn;
    # nothing imports the installed package, so make installs the dependencies plainly.
    makefile = (PROJECT / "Makefile").read_text()
    assert "pip install --quiet '.[dev]'" in makefile and "install --quiet -e" not in makefile
