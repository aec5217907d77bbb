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
