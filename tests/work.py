"""Test data written with factories bypasses the services, so it bypasses the work-item table
and the dashboard's figures too: builders call ``settle()`` after their writes, as the services
would have refreshed them.

Every database test ends with ``check_in_step`` (the ``pytest_runtest_call`` hook in
tests/conftest.py): a test whose work-item table, or whose dashboard figures and tallies
(``patients.figures``), are out of step with the source tables at its end fails, because either a
service forgot to move them (a defect) or the test wrote around the services without settling (a
defect of the test). A test that means to leave them out of step carries
``@pytest.mark.writes_around_services``. ``ICBT_CHECK_WORK_DRIFT=off`` turns the check off;
``ICBT_CHECK_WORK_DRIFT=<file>`` lists the drift in that file instead of failing."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

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


@dataclass
class InStep:
    """What the end-of-test check found: the work-item drift (``work_items.reconcile``) and the
    figures and tallies that differ (``figures.reconcile``, keys such as ``figure:...``)."""

    work: work_items.Drift = field(default_factory=work_items.Drift)
    figures: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.work or self.figures)

    def describe(self) -> str:
        parts = []
        if self.work:
            parts.append(f"opened={self.work.opened} closed={self.work.closed} changed={self.work.changed}")
        if self.figures:
            parts.append(f"figures={self.figures}")
        return " ".join(parts)


def check_in_step(test_id: str, *, mode: str | None = None) -> InStep:
    """Ask both reconciles (no repair) whether the work-item table and the dashboard's figures
    and tallies match the source tables; on drift fail the test, or with a file as ``mode``
    append the test's id and the drift to it."""
    mode = check_mode() if mode is None else mode
    if mode == "off":
        return InStep()
    found = InStep(work=work_items.reconcile(repair=False), figures=figures.reconcile(repair=False))
    if not found:
        return found
    if mode != "fail":
        with open(mode, "a", encoding="utf-8") as out:
            out.write(f"{test_id}\t{found.describe()}\n")
        return found
    what = " and ".join(
        name
        for name, drifted in (
            ("the work-item table", found.work),
            ("the dashboard's figures (DailyFigure, WorkTally)", found.figures),
        )
        if drifted
    )
    pytest.fail(
        f"at the end of this test, {what}: out of step with the source tables ({found.describe()}); "
        "a service did not move them, or the test wrote around the services "
        f"(call tests.work.settle() after such writes, or mark the test @pytest.mark.{MARK}).",
        pytrace=False,
    )
    return found  # pragma: no cover (pytest.fail raises)
