"""The real programs under programs/content/ (written by the content writers). Nothing is
skipped: until both programs are complete in English and Dutch, these tests fail."""

import pytest

from programs import content_loader
from tests.programs.readability import reading_ease, words

PROGRAMS = ("master-your-pain", "master-your-fatigue")
LANGUAGES = ("en", "nl")
MIN_READING_EASE = 60  # Flesch reading ease (en), Flesch-Douma (nl)
MAX_WORDS = 400


@pytest.fixture(scope="module")
def content():
    """Every program language, parsed and validated exactly as load_programs does."""
    parsed = content_loader.read_content()
    return {(p.program, p.language): p for p in parsed}


def _markdown_files(content):
    for (program, language), parsed in sorted(content.items()):
        for rel, raw in sorted(parsed.files.items()):
            if rel.endswith(".md"):
                yield program, language, rel, raw.decode("utf-8")


def test_both_programs_exist_in_english_and_dutch(content):
    for program in PROGRAMS:
        for language in LANGUAGES:
            assert (program, language) in content, f"{program}/{language} is missing"


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_six_modules(content, program, language):
    parsed = content[(program, language)]
    assert [m.number for m in parsed.modules] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_module_is_complete(content, program, language):
    parsed = content[(program, language)]
    diaries = {d.slug for d in parsed.diaries}
    for module in parsed.modules:
        where = f"{program}/{language} module {module.number}"
        kinds = [s.kind for s in module.steps]
        assignments = [s for s in module.steps if s.kind == "assignment"]
        assert assignments, f"{where}: no assignment"
        for step in assignments:
            assert step.example_markdown.strip(), f"{where} {step.slug}: no worked example"
        assert kinds[0] == "page", f"{where}: does not start with an introduction page"
        assert kinds[-1] == "page", f"{where}: does not end with a summary page"
        education = kinds.count("page") - 2
        assert 3 <= education <= 6, f"{where}: {education} psycho-education pages (3-6 expected)"
        assert "diary" in kinds, f"{where}: no diary step"
        assert len(module.diaries) <= 3, f"{where}: more than three diaries at a time"
        referred = set(module.diaries) | {s.diary for s in module.steps if s.kind == "diary"}
        assert referred <= diaries, f"{where}: unknown diaries {sorted(referred - diaries)}"


def test_dutch_has_the_structure_of_english(content):
    for program in PROGRAMS:
        assert content[(program, "nl")].structure_hash == content[(program, "en")].structure_hash, program


def test_every_patient_facing_text_is_short_and_plain(content):
    problems = []
    for program, language, rel, text in _markdown_files(content):
        count = words(text)
        ease = reading_ease(text, language)
        if count > MAX_WORDS:
            problems.append(f"{program}/{language}/{rel}: {count} words (at most {MAX_WORDS})")
        if ease < MIN_READING_EASE:
            formula = "Flesch-Douma" if language == "nl" else "Flesch reading ease"
            problems.append(f"{program}/{language}/{rel}: {formula} {ease:.1f} (at least {MIN_READING_EASE})")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_a_therapist_can_preview_every_step_of_both_programs(world, client_for):
    from django.urls import reverse

    from programs import services
    from programs.models import Step

    services.program_content_load()
    client = client_for(world.therapist.user)
    steps = Step.objects.select_related("module", "version__program").filter(
        version__program__slug__in=PROGRAMS
    )
    assert steps.count() > 200
    failures = []
    for step in steps:
        url = reverse("programs:preview_step", args=[step.version_id, step.module.slug, step.slug])
        response = client.get(url)
        if response.status_code != 200 or step.title.encode() not in response.content.replace(
            b"&#x27;", b"'"
        ):
            failures.append(f"{step.version.language} {step.key}: {response.status_code}")
    assert not failures, failures


# The period each instrument asks about, as step titles must name it.
PERIOD_IN_TITLE = {
    "en": {"two_weeks": "past two weeks", "week": "past week", "now": "these days"},
    "nl": {"two_weeks": "afgelopen twee weken", "week": "afgelopen week", "now": "op dit moment"},
}
INSTRUMENT_PERIOD = {
    "phq9": "two_weeks",
    "gad7": "two_weeks",
    "cis_fatigue": "two_weeks",
    "pain_nrs": "week",
    "fatigue_nrs": "week",
    "rand36_pf": "now",
}


def test_questionnaire_titles_say_the_period_the_items_ask_about(content):
    problems = []
    for (program, language), parsed in sorted(content.items()):
        for module in parsed.modules:
            for step in module.steps:
                if step.kind != "questionnaire":
                    continue
                phrase = PERIOD_IN_TITLE[language][INSTRUMENT_PERIOD[step.questionnaire]]
                if phrase not in step.title.lower():
                    problems.append(f"{program}/{language} {step.slug}: {step.title!r} lacks {phrase!r}")
    assert not problems, "\n".join(problems)


def test_every_instrument_states_its_period_in_both_languages():
    from programs import questionnaires

    for code, period in INSTRUMENT_PERIOD.items():
        instrument = questionnaires.get_instrument(code)
        for language in ("en", "nl"):
            assert PERIOD_IN_TITLE[language][period] in instrument.periods[language], (code, language)
        shown = questionnaires.questionnaire_presentation(code, "nl")
        if shown.available:  # in English where the Dutch texts are not shipped
            assert shown.period == instrument.periods["nl" if shown.translated else "en"], code
