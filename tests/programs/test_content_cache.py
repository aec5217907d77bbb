"""Program content kept in the process (programs.content_cache): read once per version, handed
out as fresh instances, and the list of newest versions read again once a load has committed."""

import pytest
from django.core.cache.backends.base import BaseCache

from programs import content_cache
from programs.models import Step
from programs.selectors import step_route
from tests.programs.helpers import copy_fixture, load_tiny

pytestmark = pytest.mark.django_db


def _outline_titles(outline):
    return [(module.slug, [step.slug for step in steps]) for module, steps in outline]


def test_a_versions_outline_is_read_once_and_matches_the_database(django_assert_num_queries):
    version = load_tiny()
    with django_assert_num_queries(1):
        first = content_cache.version_outline(version)
    with django_assert_num_queries(0):
        again = content_cache.version_outline(version)
    expected = (
        Step.objects.filter(version=version).select_related("module").order_by("module__number", "position")
    )
    assert [s.pk for _m, steps in first for s in steps] == [s.pk for s in expected]
    assert _outline_titles(first) == _outline_titles(again)
    for _module, steps in again:
        for step in steps:
            stored = Step.objects.get(pk=step.pk)
            assert (step.title, step.kind, step.optional, step.diary_type_id, step.questionnaire) == (
                stored.title,
                stored.kind,
                stored.optional,
                stored.diary_type_id,
                stored.questionnaire,
            )
            assert step_route(step) == step_route(stored)
            assert step.module.pk == stored.module_id


def test_every_call_hands_out_fresh_instances():
    version = load_tiny()
    module, steps = content_cache.version_outline(version)[0]
    module.title = "changed by a caller"
    steps[0].title = "changed too"
    steps.clear()
    module_again, steps_again = content_cache.version_outline(version)[0]
    assert module_again.title != "changed by a caller"
    assert steps_again and steps_again[0].title != "changed too"


def test_the_same_id_with_other_content_is_not_served_from_the_cache(django_assert_num_queries):
    version = load_tiny()
    content_cache.version_outline(version)
    version.content_hash = "other content under the same id"
    with django_assert_num_queries(1):
        content_cache.version_outline(version)


def test_the_newest_versions_are_read_again_after_a_load_commits(
    tmp_path, django_assert_num_queries, django_capture_on_commit_callbacks
):
    root = copy_fixture(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        load_tiny(root)
    first = content_cache.latest_versions()
    with django_assert_num_queries(0):
        assert [v.pk for v in content_cache.latest_versions()] == [v.pk for v in first]
    # Changed content becomes a new version: once its load commits, every process reads again.
    page = next(root.glob("tiny-program/en/**/*.md"))
    page.write_text(page.read_text() + "\nOne more line.\n")
    with django_capture_on_commit_callbacks(execute=True):
        newer = load_tiny(root)
    with django_assert_num_queries(1):
        versions = content_cache.latest_versions()
    assert newer.pk in [v.pk for v in versions]
    assert newer.pk not in [v.pk for v in first]


def test_a_load_that_changes_nothing_keeps_the_list(
    django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        load_tiny()
    content_cache.latest_versions()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        load_tiny()
    assert callbacks == []
    with django_assert_num_queries(0):
        content_cache.latest_versions()


class UnreachableCache(BaseCache):
    """A cache server that is down: every call raises, as the Redis backend does."""

    def __init__(self, location, params):
        super().__init__(params)

    def _fail(self, *args, **kwargs):
        raise ConnectionError("cache unreachable")

    add = get = set = delete = touch = has_key = clear = _fail


def test_without_the_shared_cache_the_newest_versions_come_from_the_database(
    settings, django_assert_num_queries
):
    load_tiny()
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.UnreachableCache"}}
    for _read in range(2):
        with django_assert_num_queries(1):
            versions = content_cache.latest_versions()
    assert {v.program.slug for v in versions} == {"tiny-program"}


# --- Diary types ----------------------------------------------------------------------------------


def _versions_with_other_diary_titles(root):
    """English version 1, its Dutch version and English version 2, each with a diary ``mood`` of
    its own title (the Dutch and the second version edited in a copy of the fixture)."""
    from programs.models import ProgramVersion

    nl = root / "tiny-program" / "nl" / "manifest.yaml"
    nl.write_text(nl.read_text().replace("title: Mood diary", "title: Stemmingsdagboek", 1))
    first = load_tiny(root)
    en = root / "tiny-program" / "en" / "manifest.yaml"
    en.write_text(en.read_text().replace("title: Mood diary", "title: Mood diary, second edition", 1))
    second = load_tiny(root)
    dutch = ProgramVersion.objects.get(program__slug="tiny-program", language="nl")
    assert second.pk != first.pk and second.number == first.number + 1
    return first, dutch, second


def test_a_diary_type_is_read_once_per_version_and_matches_the_database(django_assert_num_queries):
    from programs.models import DiaryType

    version = load_tiny()
    with django_assert_num_queries(1):
        first = content_cache.diary_type(version, "mood")
    with django_assert_num_queries(0):
        again = content_cache.diary_type(version, "mood")
        assert again.version is version  # the version given, not read again
    stored = DiaryType.objects.get(version=version, slug="mood")
    for found in (first, again):
        assert found.pk == stored.pk
        assert [getattr(found, f.attname) for f in DiaryType._meta.concrete_fields] == [
            getattr(stored, f.attname) for f in DiaryType._meta.concrete_fields
        ]
    with django_assert_num_queries(0):
        assert content_cache.diary_type(version, "no-such-diary") is None


def test_a_diary_type_is_never_served_for_another_version_or_language(content_root):
    first, dutch, second = _versions_with_other_diary_titles(content_root)
    for _round in range(2):  # read, then from the process
        assert content_cache.diary_type(first, "mood").title == "Mood diary"
        assert content_cache.diary_type(dutch, "mood").title == "Stemmingsdagboek"
        assert content_cache.diary_type(second, "mood").title == "Mood diary, second edition"
        assert content_cache.diary_type(first, "mood").version_id == first.pk
        assert content_cache.diary_type(dutch, "mood").version_id == dutch.pk
        assert content_cache.diary_type(second, "mood").version_id == second.pk


def test_a_diary_type_under_the_same_id_with_other_content_is_read_again(django_assert_num_queries):
    version = load_tiny()
    content_cache.diary_type(version, "mood")
    version.content_hash = "other content under the same id"
    with django_assert_num_queries(1):
        content_cache.diary_type(version, "mood")


def test_every_caller_gets_a_diary_type_of_its_own():
    version = load_tiny()
    found = content_cache.diary_type(version, "mood")
    found.title = "changed by a caller"
    found.fields[0]["label"] = "changed too"
    found.fields.clear()
    found.chart_fields.append("bedtime")
    again = content_cache.diary_type(version, "mood")
    assert again.title == "Mood diary"
    assert again.fields and again.fields[0]["label"] == "How was your mood?"
    assert again.chart_fields == ["mood", "minutes"]
