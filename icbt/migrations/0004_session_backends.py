"""Sessions signed in before the authentication backends moved to ``icbt.backends`` name the
old backend paths; Django would sign those people out (a session whose backend is no longer
configured is dropped). This rewrites the path inside every live session, so nobody loses what
they were typing when the new version is deployed."""

from django.db import migrations
from django.utils import timezone

RENAMED = {
    "django.contrib.auth.backends.ModelBackend": "icbt.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend": "icbt.backends.AuthenticationBackend",
}
BACKEND_KEY = "_auth_user_backend"


def rename_backends(apps, schema_editor, renamed=RENAMED):
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        try:
            data = store.decode(session.session_data)
        except Exception:  # noqa: BLE001 - an unreadable session stays as it is (and ends)
            continue
        if data.get(BACKEND_KEY) in renamed:
            data[BACKEND_KEY] = renamed[data[BACKEND_KEY]]
            session.session_data = store.encode(data)
            session.save(update_fields=["session_data"])
            _forget_cached_copy(session.session_key)


def _forget_cached_copy(session_key: str) -> None:
    """Sessions may be read from the cache (icbt.session_store): drop the copy there, so that the
    rewritten row is what the next request reads."""
    from django.conf import settings
    from django.contrib.sessions.backends.cached_db import KEY_PREFIX
    from django.core.cache import caches

    try:
        caches[settings.SESSION_CACHE_ALIAS].delete(KEY_PREFIX + session_key)
    except Exception:  # noqa: BLE001, S110 - an unreachable cache: its copies expire by themselves
        pass


def restore_backends(apps, schema_editor):
    rename_backends(apps, schema_editor, renamed={new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("icbt", "0003_notifications"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(rename_backends, restore_backends)]
