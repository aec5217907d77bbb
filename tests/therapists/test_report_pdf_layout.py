"""The clinic period report's tables keep their words whole: a column is as wide as its longest
word, so text wraps between words, not inside them (the walk-through found "Mon/th", "pho/ne",
"Afrondinge/n"), in English and in Dutch."""

import csv
import io
import re

import pytest
from django.urls import reverse

from tests.therapists.builders import build_caseload
from tests.therapists.test_exports import TABLES, pdf_text

PERIOD = {"start": "2024-01-01", "end": "2026-12-31"}


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_table_header_word_is_whole_in_the_report(clock, world, client_for, language):
    build_caseload(world.therapist, 3)
    manager = world.manager.user
    manager.language = language
    manager.save(update_fields=["language"])
    client = client_for(manager)
    response = client.get(reverse("therapists:dashboard_pdf"), PERIOD)
    assert response.status_code == 200
    words = set(re.findall(r"\w+", pdf_text(response.content)))
    expected = set()
    for table in TABLES:
        content = client.get(reverse("therapists:dashboard_csv", args=[table]), PERIOD).content
        header = next(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        expected |= {word for cell in header for word in re.findall(r"[^\W\d_]{4,}", cell)}
    assert expected, "the CSV headers give the words to look for"
    assert expected <= words, sorted(expected - words)
