"""Starter feedback templates: shipped per program and language (feedback.yaml), loaded by
load_programs, copied to every clinic as clinic-wide templates that the clinic admin edits."""

import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from icbt.models import Clinic
from messaging import services
from messaging.models import FeedbackTemplate
from patients.models import Enrollment
from programs import content_loader
from programs import services as program_services
from programs.models import FeedbackStarter, ProgramVersion
from tests.factories import make_patient, make_staff
from tests.programs.helpers import copy_fixture
from tests.work import settle

TINY_FEEDBACK = {
    "en": """templates:
  - key: well-done
    title: "Well done"
    text: |
      Hi {first_name}, well done on your diary this week.

      Your next step: the next page.
  - key: effort
    snippet: true
    title: "Effort"
    text: "It takes effort. You did it anyway."
""",
    "nl": """templates:
  - key: well-done
    title: "Goed gedaan"
    text: |
      Hoi {first_name}, goed gedaan met je dagboek deze week.

      Je volgende stap: de volgende pagina.
  - key: effort
    snippet: true
    title: "Moeite"
    text: "Het kost moeite. Je deed het toch."
""",
}


def _snapshot():
    return sorted(
        FeedbackStarter.objects.values_list(
            "pk", "program__slug", "language", "key", "position", "title", "body", "is_snippet"
        )
    )


def _enroll(patient, version):
    created = Enrollment.objects.create(
        patient=patient,
        clinic=patient.clinic,
        version=version,
        therapist=patient.therapist,
        status=Enrollment.Status.ACTIVE,
        start_date=timezone.localdate(),
        started_at=timezone.now(),
    )
    settle()
    return created


def _tiny_with_feedback(tmp_path) -> Path:
    root = copy_fixture(tmp_path)
    for language, text in TINY_FEEDBACK.items():
        (root / "tiny-program" / language / "feedback.yaml").write_text(text, encoding="utf-8")
    return root


def test_both_programs_ship_starters_in_both_languages_written_to_the_advice():
    """Every program language has templates and snippets; every template ends with a next step
    and the languages have the same starters (the loader refuses anything else)."""
    parsed = {(p.program, p.language): p for p in content_loader.read_content()}
    for program in ("master-your-fatigue", "master-your-pain"):
        keys = None
        for language, next_step in (("en", r"(next|last) step"), ("nl", r"(volgende|laatste) stap")):
            feedback = parsed[(program, language)].feedback
            templates = [f for f in feedback if not f.is_snippet]
            assert len(templates) >= 5 and any(f.is_snippet for f in feedback), (program, language)
            for f in templates:
                assert "{first_name}" in f.body and "{therapist_name}" in f.body, f.key
                assert re.search(next_step, f.body.lower()), f"{program}/{language} {f.key}: no next step"
                assert len(f.body.split()) <= 90, f"{program}/{language} {f.key}: not short"
            assert keys is None or keys == [f.key for f in feedback]
            keys = [f.key for f in feedback]


def test_a_language_with_other_starters_than_english_is_refused(tmp_path):
    root = _tiny_with_feedback(tmp_path)
    (root / "tiny-program" / "nl" / "feedback.yaml").write_text(
        TINY_FEEDBACK["nl"].replace("key: effort", "key: moeite").replace("{first_name}", "{voornaam}"),
        encoding="utf-8",
    )
    with pytest.raises(content_loader.ContentErrors) as caught:
        content_loader.read_content(root)
    messages = str(caught.value)
    assert "starter template 'effort' of en is missing" in messages
    assert "starter template 'moeite' is not in en" in messages
    assert "unknown placeholder" in messages


@pytest.mark.django_db
def test_loading_twice_changes_nothing():
    program_services.program_content_load()
    first = _snapshot()
    assert len(first) == 44  # 2 programs x 2 languages x 11
    clinic = Clinic.objects.create(name="Gamma Clinic")
    assert services.template_starters_provide(clinic_id=clinic.pk) == 44
    copies = sorted(FeedbackTemplate.objects.filter(clinic=clinic).values_list("pk", "starter_id", "body"))

    results = program_services.program_content_load()
    assert {r.status for r in results} == {"unchanged"}
    assert _snapshot() == first
    assert services.template_starters_provide(clinic_id=clinic.pk) == 0
    assert (
        sorted(FeedbackTemplate.objects.filter(clinic=clinic).values_list("pk", "starter_id", "body"))
        == copies
    )


@pytest.mark.django_db
def test_a_new_clinic_sees_the_starters_of_its_patients_program_and_language(client_for):
    program_services.program_content_load()
    clinic = Clinic.objects.create(name="Gamma Clinic")
    therapist = make_staff(clinic, "gina@gamma.test", therapist=True, first_name="Gina", last_name="Vos")
    patient = make_patient(clinic, therapist, "pim@patients.test", first_name="Pim")
    version = ProgramVersion.objects.filter(program__slug="master-your-fatigue", language="nl").latest(
        "number"
    )
    _enroll(patient, version)
    assert not FeedbackTemplate.objects.filter(clinic=clinic).exists()

    response = client_for(therapist.user).get(reverse("messaging:staff_conversation", args=[patient.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "template-picker" in page
    assert "Vermoeidheid: feedback op module 1" in page
    assert "Hoi Pim," in page and "Gina Vos" in page  # placeholders filled in
    assert "Fatigue: feedback on module 1" not in page  # English starter: other language
    assert "Pijn: feedback op je doelen" not in page  # other program
    assert FeedbackTemplate.objects.filter(clinic=clinic, owner=None, starter__isnull=False).count() == 44


@pytest.mark.django_db
def test_a_clinics_edit_and_deletion_survive_a_reload(world, client_for, tmp_path):
    root = _tiny_with_feedback(tmp_path)
    program_services.program_content_load(root=root)
    admin = client_for(world.admin.user)
    assert admin.get(reverse("messaging:template_list")).status_code == 200  # the clinic gets its copies
    nl_copy = FeedbackTemplate.objects.get(
        clinic=world.clinic, starter__key="well-done", starter__language="nl"
    )
    assert nl_copy.body.startswith("Hoi {first_name}, goed gedaan")
    copy = FeedbackTemplate.objects.get(clinic=world.clinic, starter__key="well-done", starter__language="en")
    snippet = FeedbackTemplate.objects.get(clinic=world.clinic, starter__key="effort", starter__language="en")
    assert copy.owner is None and copy.body.startswith("Hi {first_name}, well done")

    edited = "Hi {first_name}, our own words.\n\nNext: page 2."
    response = admin.post(
        reverse("messaging:template_update", args=[copy.pk]), {"title": "Ours", "body": edited}
    )
    assert response.status_code == 302
    assert admin.post(reverse("messaging:template_delete", args=[snippet.pk])).status_code == 302

    for language in ("en", "nl"):
        path = root / "tiny-program" / language / "feedback.yaml"
        text = path.read_text(encoding="utf-8").replace("well done on your diary", "great work on your diary")
        text = text.replace("goed gedaan met je dagboek", "heel goed gedaan met je dagboek")
        text += '  - key: new-one\n    title: "New"\n    text: "A new starter, {first_name}."\n'
        path.write_text(text, encoding="utf-8")
    program_services.program_content_load(root=root)
    page = admin.get(reverse("messaging:template_list")).content.decode()

    starter = FeedbackStarter.objects.get(program__slug="tiny-program", language="en", key="well-done")
    assert "great work on your diary" in starter.body  # the shipped starter follows the files
    copy.refresh_from_db()
    assert (copy.title, copy.body) == ("Ours", edited)  # the clinic's edit stays
    unedited = FeedbackTemplate.objects.get(
        clinic=world.clinic, starter__key="well-done", starter__language="nl"
    )
    assert "heel goed gedaan met je dagboek" in unedited.body  # a copy nobody edited follows the files
    assert FeedbackTemplate.objects.filter(pk=snippet.pk, hidden=True).exists()  # deleted stays deleted
    assert "Ours" in page and "Effort" not in page
    assert FeedbackTemplate.objects.filter(clinic=world.clinic, starter__key="new-one").count() == 2
    assert admin.get(reverse("messaging:template_update", args=[snippet.pk])).status_code == 404


@pytest.mark.django_db
def test_the_composer_checks_for_missing_starters_without_a_query_of_its_own(client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    program_services.program_content_load()
    clinic = Clinic.objects.create(name="Gamma Clinic")
    therapist = make_staff(clinic, "gina@gamma.test", therapist=True)
    patient = make_patient(clinic, therapist, "pim@patients.test", first_name="Pim")
    _enroll(
        patient,
        ProgramVersion.objects.filter(program__slug="master-your-pain", language="en").latest("number"),
    )
    client = client_for(therapist.user)
    url = reverse("messaging:staff_conversation", args=[patient.pk])
    client.get(url)  # copies the starters

    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content.decode()

    # The check rides on the enrollment query; no query of its own lists the starters.
    assert any("patients_enrollment" in q["sql"] and "programs_feedbackstarter" in q["sql"] for q in queries)
    assert not [q for q in queries if q["sql"].startswith('SELECT "programs_feedbackstarter"')]
    assert not [q for q in queries if q["sql"].startswith("INSERT") and "feedbacktemplate" in q["sql"]]
    assert "Pain: feedback on your goals" in page


@pytest.mark.django_db
def test_the_composer_brings_an_unedited_copy_up_to_date_after_a_reload(world, client_for, tmp_path):
    root = _tiny_with_feedback(tmp_path)
    program_services.program_content_load(root=root)
    enrollment = _enroll(
        world.patient_a, ProgramVersion.objects.get(program__slug="tiny-program", language="en")
    )
    client = client_for(world.therapist.user)
    url = reverse("messaging:staff_conversation", args=[enrollment.patient.pk])
    assert "well done on your diary" in client.get(url).content.decode()

    path = root / "tiny-program" / "en" / "feedback.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("well done on", "great work on"), encoding="utf-8"
    )
    program_services.program_content_load(root=root)

    page = client.get(url).content.decode()
    assert "great work on your diary" in page and "well done on your diary" not in page
