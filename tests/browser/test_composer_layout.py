"""The composer with two months of diaries in Chromium: the page ends at its footer (no blank
screens to scroll through), every diary value reads in full (no box that scrolls inside the
work panel and clips it), and each day has its own "Comment on this day"."""

import subprocess
import sys

import pytest

from tests.browser.conftest import DESKTOP, PHONE, ROOT

pytestmark = pytest.mark.browser

SEED = """
from datetime import timedelta
from django.utils import timezone
from patients.models import DiaryEntry, Enrollment, Patient
from programs.models import DiaryType, ProgramVersion
patient = Patient.objects.get(user__email="pain.patient@linde.example")
enrollment = Enrollment.objects.filter(patient=patient, status__in=Enrollment.OPEN_STATUSES).first()
if enrollment is None:
    version = (ProgramVersion.objects.filter(program__slug="master-your-pain", language="en")
               .order_by("-number").first())
    enrollment = Enrollment.objects.create(patient=patient, clinic=patient.clinic, version=version,
        therapist=patient.therapist, status="active", start_date=timezone.localdate() - timedelta(days=70))
relax = DiaryType.objects.get(version=enrollment.version, slug="relaxation")
today = timezone.localdate()
for n in range(1, 61):
    day = today - timedelta(days=n)
    if not DiaryEntry.objects.filter(enrollment=enrollment, diary_type=relax, entry_date=day).exists():
        entry = DiaryEntry(enrollment=enrollment, clinic_id=enrollment.clinic_id,
            diary_type=relax, entry_date=day,
            values={"exercise": "muscle-relaxation", "minutes": 60, "tension_before": 7, "tension_after": 3},
            text='{"note": "Felt my shoulders let go after a while"}')
        entry.save()
print(patient.pk)
"""

MEASURE = """() => {
  const root = document.documentElement;
  const footer = document.querySelector('body > footer, footer');
  const footerBottom = footer.getBoundingClientRect().bottom + window.scrollY;
  const clipped = [];
  for (const dd of document.querySelectorAll('.diary-values dd')) {
    if (dd.scrollWidth > dd.clientWidth + 1) clipped.push(dd.textContent);
    for (let el = dd.parentElement; el && el !== document.body; el = el.parentElement) {
      const style = getComputedStyle(el);
      const scrolls = /(auto|scroll|hidden)/.test(style.overflowX + style.overflowY);
      if (scrolls && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) {
        clipped.push('inside a scroll box: ' + el.className);
        break;
      }
    }
  }
  return {height: root.scrollHeight, width: root.scrollWidth, viewport: window.innerWidth,
          footerBottom, clipped: clipped.slice(0, 5),
          days: document.querySelectorAll('.diary-day').length,
          comment: document.querySelectorAll('.diary-day input[name=attach]').length};
}"""


@pytest.fixture
def diary_patient_pk(app_server):
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", SEED],
        env=app_server["env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_composer_ends_at_its_footer_and_shows_every_diary_value_whole(
    signed_in, diary_patient_pk, viewport, shots
):
    page = signed_in("therapist@linde.example", staff=True, viewport=viewport).page
    page.goto(f"/staff/patients/{diary_patient_pk}/messages/")
    page.wait_for_load_state()
    shots(page, f"composer-{viewport['width']}")
    found = page.evaluate(MEASURE)
    # The document ends where its content ends: at most a few pixels below the footer.
    assert found["height"] <= found["footerBottom"] + 4, found
    assert found["width"] <= found["viewport"], found
    assert not found["clipped"], found
    assert found["days"] >= 60 and found["comment"] == found["days"], found
    day = page.locator(".diary-day", has_text="How many minutes did you practise?").first
    assert "60 minutes" in day.locator("dd").all_inner_texts()
    day.get_by_label("Comment on this day").check()
    assert day.locator("input[name=attach]").is_checked()


LABEL_BOXES = """() => [...document.querySelectorAll('svg.chart')].map(svg => ({
  id: svg.getAttribute('aria-labelledby'),
  boxes: [...svg.querySelectorAll('text[text-anchor=middle]')].map(t => {
    const r = t.getBoundingClientRect();
    return [r.left, r.right, r.top, r.bottom];
  }),
}))"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_dashboard_month_labels_do_not_overlap(signed_in, viewport):
    page = signed_in("manager@linde.example", staff=True, viewport=viewport).page
    page.goto("/staff/dashboard/")
    page.wait_for_load_state()
    charts = {c["id"]: c["boxes"] for c in page.evaluate(LABEL_BOXES)}
    months = [
        boxes
        for chart_id, boxes in charts.items()
        if "chart-flow" in chart_id or "chart-contacts" in chart_id
    ]
    assert len(months) == 2 and all(len(boxes) >= 6 for boxes in months), charts
    for boxes in months:
        for (_l1, right, _t1, _b1), (left, _r2, _t2, _b2) in zip(boxes, boxes[1:], strict=False):
            assert right <= left + 0.5, boxes
