"""One long unbroken word (5,000 characters) wraps: on the pages (the stylesheet every page
loads) and in the PDFs (laid out by WeasyPrint, no box wider than the page)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from icbt.pdf import INTERNAL_BASE_URL, make_url_fetcher
from patients import reports, services
from programs.models import DiaryType
from tests.patients.patient_helpers import enroll, tiny_version

pytestmark = pytest.mark.django_db

WORD = "w" * 5000
CSS = Path(settings.BASE_DIR) / "static" / "css"


def _entry(world):
    version = tiny_version()
    enrollment = enroll(world.patient_a, version)
    mood = DiaryType.objects.get(version=version, slug="mood")
    answers = {"mood": 6, "bedtime": "22:30", "walked": True, "minutes": 25, "kind": "free", "note": WORD}
    entry = services.diary_entry_save(
        enrollment=enrollment, diary_type=mood, entry_date=timezone.localdate(), answers=answers
    )
    return enrollment, entry


def _wraps_anywhere(css: str, selector: str) -> bool:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for rule in re.finditer(r"([^{}]+)\{([^}]*)\}", css):
        selectors = {s.strip() for s in rule.group(1).split(",")}
        if selector in selectors and re.search(r"overflow-wrap:\s*anywhere", rule.group(2)):
            return True
    return False


def test_the_page_with_a_long_word_loads_a_stylesheet_that_wraps_it(world, client_for):
    _enrollment, entry = _entry(world)
    html = client_for(world.patient_a.user).get(f"/me/diaries/entries/{entry.uid}/").content.decode()
    assert WORD in html and "/static/css/icbt.css" in html
    css = (CSS / "icbt.css").read_text()
    for selector in ("body", "td", "textarea", "input"):
        assert _wraps_anywhere(css, selector), selector


def _boxes(box):
    yield box
    for child in getattr(box, "children", None) or []:
        yield from _boxes(child)


def test_the_own_data_pdf_keeps_a_long_word_inside_the_page(world):
    import weasyprint

    _entry(world)
    data = reports.own_data_for_pdf(reports.own_data(patient=world.patient_a))
    html = render_to_string("patients/reports/own_data.html", {"data": data, "patient": world.patient_a})
    assert WORD[:100] in html
    document = weasyprint.HTML(
        string=html, base_url=INTERNAL_BASE_URL, url_fetcher=make_url_fetcher()
    ).render()
    for page in document.pages:
        widest = max(
            b.position_x + b.margin_width() for b in _boxes(page._page_box) if hasattr(b, "margin_width")
        )
        assert widest <= page.width + 0.5
