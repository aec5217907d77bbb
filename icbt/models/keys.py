from django.db import models
from django.utils import timezone


class DataKey(models.Model):
    """A data-encryption key, stored only wrapped (encrypted) by a master key.

    ``scope`` is the clinic id the key belongs to (envelope encryption per clinic), or 0 for
    data that belongs to no clinic. Exactly one key per scope is active; older keys stay until
    ``manage.py rotate_keys`` has re-encrypted every row that uses them.
    """

    key_id = models.CharField(max_length=16, unique=True)
    scope = models.BigIntegerField(default=0, db_index=True)
    wrapped_key = models.TextField()
    master_key_id = models.CharField(max_length=16)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope"], condition=models.Q(active=True), name="one_active_key_per_scope"
            )
        ]

    def __str__(self):
        return f"data key {self.key_id} (scope {self.scope})"
