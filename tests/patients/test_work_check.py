"""The end-of-test check of the work-item table and the dashboard's figures (tests/work.py, the
``pytest_runtest_call`` hook in tests/conftest.py): it fails a test that left either out of step,
lists the drift instead when asked to, lets a marked test through, and never replaces a test's
own failure."""

import pytest
from django.db.models import F
from django.utils import timezone

from patients.models import DailyFigure, Enrollment, WorkTally
from tests import conftest, work
from tests.patients.patient_helpers import enroll

pytestmark = pytest.mark.django_db


@pytest.fixture
def around(world):
    """An enrollment the services know, then ended with a write around them: its feedback and
    quiet rows stay open although nothing waits any more."""
    enrollment = enroll(world.patient_a)
    assert not work.check_in_step("settled", mode="fail")
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.COMPLETED)
    return enrollment


def test_the_check_fails_on_drift_and_passes_once_settled(around):
    key = f"feedback:{around.pk}"
    with pytest.raises(pytest.fail.Exception, match=rf"out of step .*closed=\[.*'{key}'"):
        work.check_in_step("a test", mode="fail")
    work.settle()
    assert not work.check_in_step("a test", mode="fail")


def test_with_a_file_the_drift_is_listed_instead(around, tmp_path):
    listed = tmp_path / "drift.txt"
    found = work.check_in_step("tests/x.py::test_y", mode=str(listed))
    assert f"feedback:{around.pk}" in found.work.closed
    assert listed.read_text().startswith(f"tests/x.py::test_y\topened=[] closed=['feedback:{around.pk}'")
    assert not work.check_in_step("off", mode="off")
    work.settle()


def test_figures_out_of_step_fail_the_check_too(clock, world, tmp_path):
    enrollment = enroll(world.patient_a, started_at=timezone.now())
    assert not work.check_in_step("settled", mode="fail")
    # A figure moved around the services: the work items are in step, the check names the
    # figures only.
    figure = DailyFigure.objects.get(kind="start")
    DailyFigure.objects.filter(pk=figure.pk).update(n=F("n") + 1)
    key = f"figure:{figure.clinic_id}:{figure.day}:start::{figure.program_ref}:{figure.team_ref}:0:0"
    with pytest.raises(pytest.fail.Exception, match=r"the dashboard's figures .*: out of step") as failed:
        work.check_in_step("a test", mode="fail")
    message = str(failed.value)
    assert "work-item table" not in message and key in message and "opened=" not in message
    listed = tmp_path / "figures.txt"
    assert work.check_in_step("tests/x.py::test_z", mode=str(listed)).figures == [key]
    assert listed.read_text() == f"tests/x.py::test_z\tfigures=['{key}']\n"
    # A tally moved around the services is drift as well.
    work.settle()
    WorkTally.objects.create(
        clinic_id=figure.clinic_id, therapist_ref=enrollment.therapist_id, team_ref=99, n=1
    )
    tally = f"tally:{figure.clinic_id}:{enrollment.therapist_id}:99"
    assert work.check_in_step("a test", mode=str(listed)).figures == [tally]
    work.settle()
    # A treatment stopped around the services: both out of step, both named.
    Enrollment.objects.filter(pk=enrollment.pk).update(
        status=Enrollment.Status.STOPPED, ended_at=timezone.now()
    )
    with pytest.raises(
        pytest.fail.Exception, match=r"the work-item table and the dashboard's figures"
    ) as failed:
        work.check_in_step("a test", mode="fail")
    assert ":stopped:" in str(failed.value) and f"'feedback:{enrollment.pk}'" in str(failed.value)
    work.settle()
    assert not work.check_in_step("a test", mode="fail")


def test_the_mode_comes_from_the_environment(monkeypatch):
    for value, mode in (
        ("", "fail"),
        ("1", "fail"),
        ("off", "off"),
        ("0", "off"),
        ("/tmp/d.txt", "/tmp/d.txt"),
    ):
        monkeypatch.setenv("ICBT_CHECK_WORK_DRIFT", value)
        assert work.check_mode() == mode
    monkeypatch.delenv("ICBT_CHECK_WORK_DRIFT")
    assert work.check_mode() == "fail"


def _run_hook(item, *, raised: BaseException | None = None):
    """Drive the hook around a test call as pytest does: the call passed, or raised ``raised``."""
    hook = conftest.pytest_runtest_call(item)
    next(hook)
    try:
        if raised is None:
            hook.send(None)
        else:
            hook.throw(raised)
    except StopIteration:
        return


def test_the_hook_fails_a_passing_test_that_left_drift(around, request, monkeypatch):
    monkeypatch.delenv("ICBT_CHECK_WORK_DRIFT", raising=False)
    with pytest.raises(pytest.fail.Exception, match="out of step"):
        _run_hook(request.node)
    # A test that failed keeps its own failure, not the check's.
    with pytest.raises(AssertionError, match="the test's own"):
        _run_hook(request.node, raised=AssertionError("the test's own"))
    # A marked test is not checked.
    request.node.add_marker(pytest.mark.writes_around_services)
    _run_hook(request.node)
    work.settle()
