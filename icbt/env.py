"""Strict readers for settings that come from the environment.

Every helper refuses values it does not understand instead of guessing, so a typo in a
deployment fails at start-up rather than silently running with a default.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(name: str) -> str | None:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets).

    Setting both is refused: it is ambiguous which one wins.
    """
    direct = os.environ.get(name) or None
    file_name = os.environ.get(f"{name}_FILE") or None
    if direct and file_name:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if file_name:
        try:
            with open(file_name, encoding="utf-8") as fh:
                return fh.read().strip() or None
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name}: {exc}") from exc
    return direct


def dev_master_key_file(var_dir, environ=None):
    """Where development keeps its generated master key: in the user's configuration directory
    (``$XDG_CONFIG_HOME/icbt/``, by default ``~/.config/icbt/``), never beside the database, so
    a copy of ``var/`` (a backup, an archive sent along with a bug report) holds ciphertext
    without the key that opens it. One key per data directory: the file name carries a digest
    of the directory's path."""
    import hashlib
    from pathlib import Path

    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    digest = hashlib.sha256(str(Path(var_dir).resolve()).encode()).hexdigest()[:16]
    return Path(base) / "icbt" / f"dev-master-{digest}.key"
