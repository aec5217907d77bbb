from django.db import models


class FormSubmission(models.Model):
    """One submitted form render, by its idempotency key (``icbt.submissions``).

    The key is a random UUID put in the form when it is rendered. The row is inserted in the
    request's own transaction before the form is handled, so a second request with the same key
    waits on the unique index until the first one commits, then finds the result to show
    (``result_url``). A form that came back with errors leaves no row. ``fingerprint`` is a keyed
    hash (HMAC with the secret key, so the text cannot be guessed from it) of what was posted: the
    same key with other content is a new submission from a stale page, not a replay."""

    key = models.UUIDField(unique=True)
    owner = models.CharField(max_length=40)
    scope = models.CharField(max_length=40)
    fingerprint = models.CharField(max_length=64)
    result_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"form submission {self.scope}"
