from django.db import models


class FormSubmission(models.Model):
    """One submitted form render, by its idempotency key (``icbt.submissions``).

    The key is a random UUID put in the form when it is rendered. The row is inserted in the
    request's own transaction before the form is handled, so a second request with the same key
    waits on the unique index until the first one commits, then finds the result to show
    (``result_url``). A form that came back with errors leaves no row."""

    key = models.UUIDField(unique=True)
    owner = models.CharField(max_length=40)
    scope = models.CharField(max_length=40)
    result_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"form submission {self.scope}"
