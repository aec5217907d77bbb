"""Test data written with factories bypasses the services, so it bypasses the work-item table
too: builders call ``settle()`` after their writes, as the services would have refreshed it.

Every database test ends with ``check_in_step`` (the ``pytest_runtest_call`` hook in
tests/conftest.py): a test whose table is out of step with the source tables at its end fails,
because either a service forgot to refresh its items (a defect) or the test wrote around the
services without settling (a defect of the test). A test that means to leave the table out of
step carries ``@pytest.mark.writes_around_services``. ``ICBT_CHECK_WORK_DRIFT=off`` turns the
check off; ``ICBT_CHECK_WORK_DRIFT=<file>`` lists the drift in that file instead of failing."""

from __future__ import annotations

import os

import pytest

from patients import figures, work_items

MARK = "writes_around_services"


def settle() -> None:
    """Bring the work-item table in line with the source tables (every clinic), and the
    dashboard's figures and tallies with both (``patients.figures``)."""
    work_items.reconcile(repair=True)
    figures.reconcile(repair=True)


def check_mode() -> str:
    """``"fail"`` (the default), ``"off"``, or the path of the file the drift is listed in."""
    value = os.environ.get("ICBT_CHECK_WORK_DRIFT", "").strip()
    if value.lower() in ("", "1", "on", "fail"):
        return "fail"
    if value.lower() in ("0", "off", "no"):
        return "off"
    return value


def check_in_step(test_id: str, *, mode: str | None = None) -> work_items.Drift:
    """Ask reconcile (no repair) whether the work-item table matches the source tables; on
    drift fail the test, or with a file as ``mode`` append the test's id and the drift to it."""
    mode = check_mode() if mode is None else mode
    if mode == "off":
        return work_items.Drift()
    drift = work_items.reconcile(repair=False)
    if not drift:
        return drift
    found = f"opened={drift.opened} closed={drift.closed} changed={drift.changed}"
    if mode != "fail":
        with open(mode, "a", encoding="utf-8") as out:
            out.write(f"{test_id}\t{found}\n")
        return drift
    pytest.fail(
        "the work-item table is out of step with its sources at the end of this test "
        f"({found}): a service did not refresh its items, or the test wrote around the services "
        f"(call tests.work.settle() after such writes, or mark the test @pytest.mark.{MARK}).",
        pytrace=False,
    )
    return drift  # pragma: no cover (pytest.fail raises)
