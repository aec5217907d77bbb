"""The end-of-test check of the work-item table (tests/work.py, the ``pytest_runtest_call`` hook
in tests/conftest.py): it fails a test that left the table out of step, lists the drift instead
when asked to, lets a marked test through, and never replaces a test's own failure."""

import pytest

from patients.models import Enrollment
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
    drift = work.check_in_step("tests/x.py::test_y", mode=str(listed))
    assert f"feedback:{around.pk}" in drift.closed
    assert listed.read_text().startswith(f"tests/x.py::test_y\topened=[] closed=['feedback:{around.pk}'")
    assert not work.check_in_step("off", mode="off")
    work.settle()


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
