from django.db import models


class CacheEntry(models.Model):
    """A row of the shared cache's stand-in (``icbt.cache.FallbackCache``): Django's database
    cache reads and writes this table with its own SQL while Redis cannot be reached. The columns
    are the ones that cache expects. It holds rate-limit counts and short-lived marks, keyed by
    hashes, never clinical content."""

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "icbt_cache_fallback"

    def __str__(self):
        return "cache entry"
