"""Guided exercises and the clinic's recording studio: parts recorded in the browser (or
uploaded one by one), listened to, recorded again and published. Access per persona is in
tests/programs/matrix.py; the journey in Chromium is tests/browser/test_guided_audio.py."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from icbt.models import AuditEvent
from programs import content_loader, illustrations, services
from programs.models import StepMedia, StepMediaPart
from tests.patients.patient_helpers import enroll, step_of
from tests.programs.helpers import OGG_HEAD, add_part, add_recording, tiny_step

pytestmark = pytest.mark.django_db

WEBM_HEAD = (
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"
)


def _ogg(name="part.ogg"):
    return SimpleUploadedFile(name, OGG_HEAD, content_type="audio/ogg")


def _record(client, step, position, upload):
    return client.post(reverse("programs:media_part_record", args=[step.pk, position]), {"file": upload})


def _publish(client, step):
    return client.post(reverse("programs:media_publish", args=[step.pk]))


class TestGuidedPlayer:
    def test_an_exercise_without_a_recording_plays_as_timed_guided_text(self, world, client_for, tiny):
        enroll(world.patient_a, tiny)
        html = (
            client_for(world.patient_a.user)
            .get(reverse("patients:step", args=["first", "breathing"]))
            .content
        )
        html = html.decode()
        assert "data-guided-player" in html and 'data-lang="en"' in html
        assert html.count('class="guided-segment"') == 2
        assert 'data-pause="2"' in html and 'data-text="Breathe in."' in html
        assert "Quiet for 2 seconds." in html  # readable without JavaScript
        assert "Read aloud slowly" in html and "Soft sound between parts" in html
        assert "[pause" not in html and "not available" not in html

    def test_every_relaxation_exercise_has_timed_parts_in_both_languages(self):
        parsed = {(p.program, p.language): p for p in content_loader.read_content()}
        for language in ("en", "nl"):
            steps = [
                step
                for module in parsed[("master-your-pain", language)].modules
                for step in module.steps
                if step.kind == "audio"
            ]
            assert len(steps) == 4
            for step in steps:
                pauses = [segment["pause"] for segment in step.definition["segments"]]
                assert len(pauses) >= 10 and sum(pauses) >= 100, (language, step.slug)
                assert "[pause" not in step.body_markdown

    def test_the_player_sounds_are_ours_and_small(self):
        for name in ("audio/chime.wav", "audio/quiet.wav"):
            path = Path(finders.find(name))
            assert path.read_bytes()[:4] == b"RIFF" and path.stat().st_size < 64 * 1024


class TestStories:
    def test_each_story_has_drawings_with_alt_text_and_no_placeholder(self, world, client_for):
        parsed = {(p.program, p.language): p for p in content_loader.read_content()}
        fatigue = parsed[("master-your-fatigue", "en")]
        video_keys = {
            f"master-your-fatigue/{module.slug}/{step.slug}"
            for module in fatigue.modules
            for step in module.steps
            if step.kind == "video"
        }
        assert set(illustrations.STORY_DRAWINGS) == video_keys
        for drawings in illustrations.STORY_DRAWINGS.values():
            assert len(drawings) == 2
            for path, alt in drawings:
                assert finders.find(path) and len(str(alt).split()) >= 5

    def test_a_story_without_a_video_is_an_illustrated_text(self, world, client_for, tiny, monkeypatch):
        monkeypatch.setitem(
            illustrations.STORY_DRAWINGS,
            "tiny-program/first/story",
            [("img/stories/joost-walk.svg", "A man walks outside.")],
        )
        enroll(world.patient_a, tiny)
        html = client_for(world.patient_a.user).get(reverse("patients:step", args=["first", "story"])).content
        html = html.decode()
        assert 'src="/static/img/stories/joost-walk.svg" alt="A man walks outside."' in html
        assert "Sam tells a short story" in html and "<video" not in html


class TestStudio:
    def test_the_studio_walks_the_script_part_by_part_with_the_microphone_allowed(
        self, world, client_for, tiny
    ):
        step = tiny_step("breathing")
        response = client_for(world.admin.user).get(reverse("programs:media_studio", args=[step.pk]))
        html = response.content.decode()
        assert "Part 1 of 2" in html and "Part 2 of 2" in html and "Breathe out. Take your time." in html
        assert "After this part the player keeps 2 seconds quiet." in html
        assert html.count("Not recorded yet") == 2 and html.count("data-recorder ") == 2
        assert response["Permissions-Policy"].startswith("camera=(self), microphone=(self)")
        assert "media-src 'self' blob:;" in response["Content-Security-Policy"]
        # Every other page keeps the microphone off.
        other = client_for(world.admin.user).get(reverse("programs:media_list"))
        assert "microphone=()" in other["Permissions-Policy"]

    def test_record_listen_and_publish(self, world, client_for, tiny):
        client = client_for(world.admin.user)
        step = tiny_step("breathing")
        response = _record(client, step, 1, _ogg())
        assert response.status_code == 302 and response["Location"].endswith("#part-1")
        draft = StepMediaPart.objects.get(clinic=world.clinic, position=1)
        assert not draft.published and draft.recorded_by == world.admin.user
        html = client.get(reverse("programs:media_studio", args=[step.pk])).content.decode()
        assert "New recording, not published yet" in html
        assert reverse("programs:media_part_file", args=[draft.pk]) in html
        # A therapist of the clinic cannot hear a draft; the admin can.
        assert client.get(reverse("programs:media_part_file", args=[draft.pk])).status_code == 200
        therapist = client_for(world.therapist.user)
        assert therapist.get(reverse("programs:media_part_file", args=[draft.pk])).status_code == 404
        # Publishing needs every part.
        response = _publish(client, step)
        assert response.status_code == 302 and not StepMedia.objects.exists()
        page = client.get(response["Location"]).content.decode()
        assert "Record every part before you publish. Still to record: part 2." in page
        _record(client, step, 2, SimpleUploadedFile("part-2.webm", WEBM_HEAD, content_type="audio/webm"))
        assert _publish(client, step).status_code == 302
        media = StepMedia.objects.get(clinic=world.clinic, step_key=step.key, language="en")
        assert not media.file and media.uploaded_by == world.admin.user
        assert list(StepMediaPart.objects.values_list("position", "published")) == [(1, True), (2, True)]
        event = AuditEvent.objects.get(object_type="step_recording", object_id=str(media.pk))
        assert event.action == AuditEvent.Action.CREATE and event.user == world.admin.user
        assert event.clinic_id == world.clinic.pk

    def test_recording_one_part_again_keeps_the_others(self, world, client_for, tiny):
        client = client_for(world.admin.user)
        step = tiny_step("breathing")
        first = add_part(world.clinic, step, 1, published=True)
        second = add_part(world.clinic, step, 2, published=True)
        _record(client, step, 2, _ogg("again.ogg"))
        assert _publish(client, step).status_code == 302
        published = StepMediaPart.objects.filter(published=True).order_by("position")
        assert [p.pk for p in published][0] == first.pk and published[1].pk != second.pk
        assert not StepMediaPart.objects.filter(published=False).exists()
        assert not StepMediaPart.objects.filter(pk=second.pk).exists()

    def test_publishing_without_a_new_take_says_so(self, world, tiny):
        step = tiny_step("breathing")
        add_part(world.clinic, step, 1, published=True)
        add_part(world.clinic, step, 2, published=True)
        with pytest.raises(ValidationError, match="There is no new recording to publish"):
            services.step_media_parts_publish(
                clinic=world.clinic, step=step, language="en", published_by=world.admin.user
            )

    @pytest.mark.parametrize(
        "upload,problem",
        [
            (SimpleUploadedFile("p.ogg", b"<html>not audio</html>"), "its content does not match its name"),
            (SimpleUploadedFile("p.exe", b"MZ"), "Choose a file of type"),
        ],
    )
    def test_a_part_that_is_not_a_recording_is_refused(self, world, client_for, tiny, upload, problem):
        response = _record(client_for(world.admin.user), tiny_step("breathing"), 1, upload)
        html = response.content.decode()
        assert response.status_code == 400 and problem in html
        assert 'id="part-file-1"' in html and "<details open>" in html
        assert not StepMediaPart.objects.exists()

    def test_a_part_the_script_does_not_have_is_not_found(self, world, client_for, tiny):
        step = tiny_step("breathing")
        assert _record(client_for(world.admin.user), step, 3, _ogg()).status_code == 404
        with pytest.raises(ValidationError, match="This exercise has no part 3."):
            services.step_media_part_record(
                clinic=world.clinic, step=step, language="en", position=3, file=_ogg(), recorded_by=None
            )

    def test_a_part_above_the_size_limit_is_refused(self, world, client_for, tiny, settings):
        settings.ICBT_RECORDING_MAX_MB = 0
        response = _record(client_for(world.admin.user), tiny_step("breathing"), 1, _ogg())
        assert response.status_code == 400 and "This recording is too large" in response.content.decode()

    def test_uploading_a_whole_file_replaces_the_parts_and_is_audited(self, world, client_for, tiny):
        step = tiny_step("breathing")
        add_part(world.clinic, step, 1, published=True)
        add_part(world.clinic, step, 2, published=True)
        client = client_for(world.admin.user)
        upload = SimpleUploadedFile("b.ogg", OGG_HEAD, content_type="audio/ogg")
        assert (
            client.post(reverse("programs:media_upload", args=[step.pk]), {"file": upload}).status_code == 302
        )
        assert not StepMediaPart.objects.filter(published=True).exists()
        assert (
            AuditEvent.objects.filter(object_type="step_recording", action=AuditEvent.Action.CREATE).count()
            == 1
        )


class TestPatientHearsTheRecording:
    def test_a_published_part_by_part_recording_replaces_the_guided_text(self, world, client_for, tiny):
        step = tiny_step("breathing")
        parts = [add_part(world.clinic, step, n, published=True) for n in (1, 2)]
        StepMedia.objects.create(clinic=world.clinic, step_key=step.key, language="en")
        add_part(world.clinic, step, 1)  # a draft: never heard by patients
        enroll(world.patient_a, tiny)
        client = client_for(world.patient_a.user)
        html = client.get(reverse("patients:step", args=["first", "breathing"])).content.decode()
        assert "guided-player-recorded" in html and "Read aloud slowly" not in html
        for part in parts:
            assert reverse("programs:media_part_file", args=[part.pk]) in html
        assert html.count("<audio") == 2
        assert client.get(reverse("programs:media_part_file", args=[parts[0].pk])).status_code == 200
        # Another clinic's patient hears nothing of it.
        other = client_for(world.outsider.user)
        assert other.get(reverse("programs:media_part_file", args=[parts[0].pk])).status_code == 404

    def test_an_uploaded_file_still_plays_as_one_recording(self, world, client_for, tiny):
        media = add_recording(world.clinic, step_of(tiny, "breathing"))
        enroll(world.patient_a, tiny)
        html = (
            client_for(world.patient_a.user)
            .get(reverse("patients:step", args=["first", "breathing"]))
            .content
        )
        assert f"{media.pk}/file".encode() in html and b"data-guided-player" not in html

    def test_the_recorded_parts_cost_one_query(self, world, client_for, tiny, django_assert_num_queries):
        """The parts are read in one query, whatever their number."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        enroll(world.patient_a, tiny)
        client = client_for(world.patient_a.user)
        url = reverse("patients:step", args=["first", "breathing"])
        client.get(url)
        with CaptureQueriesContext(connection) as guided:
            client.get(url)
        step = tiny_step("breathing")
        for n in (1, 2):
            add_part(world.clinic, step, n, published=True)
        StepMedia.objects.create(clinic=world.clinic, step_key=step.key, language="en")
        with django_assert_num_queries(len(guided) + 1):
            assert b"guided-player-recorded" in client.get(url).content
