"""Test data written with factories bypasses the services, so it bypasses the work-item table
too: builders call ``settle()`` after their writes, as the services would have refreshed it."""

from patients import work_items


def settle() -> None:
    """Bring the work-item table in line with the source tables (every clinic)."""
    work_items.reconcile(repair=True)
