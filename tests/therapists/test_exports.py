"""The dashboard's exports: a CSV of every table (Excel-safe, formula-safe) and the clinic period
report PDF, both audited as a clinic report with no patient."""

import csv
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from icbt.models import AuditEvent
from tests.messaging.helpers import enroll
from tests.therapists.builders import MARKER, build_caseload
from therapists.exports import csv_bytes, safe_cell

TABLES = ["therapists", "teams", "programs", "funnel", "contacts", "trained"]


def _rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())  # the byte order mark Excel needs for UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.parametrize(
    "value,expected",
    [
        ('=HYPERLINK("http://evil.test")', '\'=HYPERLINK("http://evil.test")'),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Anna", "Anna"),
        (3, 3),
        (2.5, 2.5),
        (None, ""),
    ],
)
def test_formula_injection_is_defused(value, expected):
    assert safe_cell(value) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ('Anna;=HYPERLINK("http://evil.test")', 'Anna;\'=HYPERLINK("http://evil.test")'),
        ("Anna,+cmd", "Anna,'+cmd"),
        ("a|@SUM(A1)", "a|'@SUM(A1)"),
        ("eerste\n=1+1", "eerste\n'=1+1"),
        ("x;\t=1", "x;'\t'=1"),
        ("2-3 dagen", "2-3 dagen"),
        ("Zoë; de Vries", "Zoë; de Vries"),
    ],
)
def test_formula_after_a_separator_is_defused(value, expected):
    assert safe_cell(value) == expected


def test_every_cell_is_quoted_so_a_semicolon_never_splits_it():
    """Dutch Excel splits on ';': a cell stays one cell with either separator, and a reader that
    splits on every ';' without minding quotes still finds no formula."""
    content = csv_bytes(["naam", "getal"], [["Anna;=1+1", 3]]).decode("utf-8-sig")
    assert content == '"naam","getal"\r\n"Anna;\'=1+1","3"\r\n'
    assert list(csv.reader(io.StringIO(content), delimiter=";"))[1] == ['Anna;\'=1+1,"3"']
    naive = [piece.strip('"') for line in content.splitlines() for piece in line.split(";")]
    assert not [piece for piece in naive if piece.startswith(("=", "+", "-", "@"))]


def test_csv_quotes_and_accents():
    rows = _rows(csv_bytes(["naam", "getal"], [['Zoë "de" Vries, jr.', 3], ["=1+1", -1]]))
    assert rows == [["naam", "getal"], ['Zoë "de" Vries, jr.', "3"], ["'=1+1", "-1"]]


@pytest.mark.parametrize("table", TABLES)
def test_every_table_as_csv(world, client_for, table):
    enroll(world.patient_a)
    response = client_for(world.manager.user).get(
        reverse("therapists:dashboard_csv", kwargs={"table": table})
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="clinic-{table}-')
    rows = _rows(response.content)
    assert len(rows[0]) >= 2


def test_csv_of_a_therapist_named_like_a_formula(world, client_for):
    user = world.therapist.user
    user.first_name, user.last_name = "=cmd|' /C calc'!A0", "@evil"
    user.save(update_fields=["first_name", "last_name"])
    enroll(world.patient_a)
    response = client_for(world.manager.user).get(
        reverse("therapists:dashboard_csv", kwargs={"table": "therapists"})
    )
    names = [row[0] for row in _rows(response.content)[1:]]
    assert "'=cmd|' /C calc'!A0 @evil" in names
    assert not any(name.startswith(("=", "+", "-", "@")) for name in names)


def test_unknown_table_is_404(world, client_for):
    response = client_for(world.manager.user).get(
        reverse("therapists:dashboard_csv", kwargs={"table": "patients"})
    )
    assert response.status_code == 404


def test_exports_are_audited_as_a_clinic_report_without_a_patient(world, client_for):
    client = client_for(world.manager.user)
    client.get(reverse("therapists:dashboard_csv", kwargs={"table": "funnel"}))
    client.get(reverse("therapists:dashboard_pdf"))
    events = AuditEvent.objects.filter(object_type="clinic_report").order_by("at", "id")
    assert [(e.action, e.object_id, e.patient_id, e.clinic_id) for e in events] == [
        ("export", "csv:funnel", None, world.clinic.pk),
        ("export", "pdf", None, world.clinic.pk),
    ]
    # Looking at the dashboard is no export.
    client.get(reverse("therapists:dashboard"))
    assert AuditEvent.objects.filter(object_type="clinic_report").count() == 2


def test_clinic_period_report_pdf(world, client_for):
    build_caseload(world.therapist, 3)
    response = client_for(world.manager.user).get(
        reverse("therapists:dashboard_pdf"), {"start": "2024-01-01", "end": "2026-12-31"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="clinic-report-2024-01-01-2026-12-31.pdf"'
    text = pdf_text(response.content)
    for expected in (
        "Clinic period report: Alpha Clinic",
        "Key figures",
        "Share of treatment contacts",
        "How far patients get",
        "Caseload per therapist",
    ):
        assert expected in text, expected
    assert "Alice" in text and "Person" in text  # the therapist's name (wrapped in its cell)
    assert MARKER not in text
    assert world.patient_a.user.get_full_name() not in text


def test_no_clinical_content_in_any_csv(world, client_for):
    build_caseload(world.therapist, 3)
    client = client_for(world.manager.user)
    for table in TABLES:
        content = client.get(reverse("therapists:dashboard_csv", kwargs={"table": table})).content
        assert MARKER.encode() not in content
