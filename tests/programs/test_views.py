"""Staff pages: program list and outline, preview as patient, clinic defaults, recordings,
licensed questionnaires. Access per persona is in tests/programs/matrix.py."""

import time

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from programs.models import ClinicProgramSetting, LicensedInstrument, LicensedUpload, StepMedia
from tests.programs.helpers import add_recording, load_tiny, tiny_step

pytestmark = pytest.mark.django_db


def settings_media_root():
    from pathlib import Path

    from django.conf import settings

    return Path(settings.MEDIA_ROOT)


def preview_url(version, slug):
    step = tiny_step(slug, version.language)
    return reverse("programs:preview_step", args=[version.pk, step.module.slug, step.slug])


def _row_counts():
    """Rows in every table of the apps that hold patient or message data, and of programs."""
    counts = {}
    for label in ("patients", "messaging", "programs", "icbt"):
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        for model in config.get_models():
            counts[model._meta.label] = model.objects.count()
    return counts


class TestProgramList:
    def test_lists_latest_versions_with_preview_links(self, world, client_for, tiny):
        response = client_for(world.therapist.user).get(reverse("programs:program_list"))
        assert response.status_code == 200
        html = response.content.decode()
        assert "Tiny Program" in html
        assert reverse("programs:preview_start", args=[tiny.pk]) in html
        assert "Klein Programma" not in html or "Nederlands" in html

    def test_query_count_does_not_grow_with_programs(
        self, world, client_for, tiny, content_root, django_assert_max_num_queries
    ):
        # A second program (a renamed copy) must not add queries.
        (content_root / "tiny-program").rename(content_root / "other-program")
        for lang in ("en", "nl"):
            manifest = content_root / "other-program" / lang / "manifest.yaml"
            manifest.write_text(manifest.read_text().replace("slug: tiny-program", "slug: other-program"))
        load_tiny(content_root)
        client = client_for(world.therapist.user)
        client.get(reverse("programs:program_list"))  # warm the session and TOTP caches
        # 7 per signed-in therapist request (6, + the worklist count in the navigation; the session
        # comes from the cache) + 2 for the versions, whatever the number of programs.
        with django_assert_max_num_queries(9):
            response = client.get(reverse("programs:program_list"))
        assert response.status_code == 200


class TestProgramDetail:
    def test_outline_shows_modules_steps_and_clinic_defaults(self, world, client_for, tiny):
        ClinicProgramSetting.objects.create(
            clinic=world.clinic, program=tiny.program, optional_steps_off=["first/story"]
        )
        response = client_for(world.therapist.user).get(
            reverse("programs:program_detail", args=["tiny-program", "en"])
        )
        html = response.content.decode()
        assert "The first module" in html and "The second module" in html
        assert "optional, off" in html
        assert preview_url(tiny, "plan") in html

    def test_query_count_is_flat(self, world, client_for, tiny, django_assert_max_num_queries):
        client = client_for(world.therapist.user)
        url = reverse("programs:program_detail", args=["tiny-program", "en"])
        client.get(url)
        # 7 per signed-in therapist request (user, roles, TOTP, savepoints, the worklist count in
        # the navigation; the session comes from the cache) + version, clinic setting, modules,
        # steps: the same for any number of modules and steps.
        with django_assert_max_num_queries(11):
            assert client.get(url).status_code == 200

    def test_unknown_program_is_404(self, world, client_for, tiny):
        response = client_for(world.therapist.user).get(
            reverse("programs:program_detail", args=["nope", "en"])
        )
        assert response.status_code == 404


class TestPreview:
    def test_start_goes_to_the_first_step(self, world, client_for, tiny):
        response = client_for(world.therapist.user).get(reverse("programs:preview_start", args=[tiny.pk]))
        assert response.status_code == 302
        assert response["Location"] == preview_url(tiny, "intro")

    @pytest.mark.parametrize(
        "slug,expected",
        [
            ("intro", "Welcome to the tiny program"),
            ("mood-start", "Little interest or pleasure in doing things"),
            ("plan", "Here is how Sam did it"),
            ("start-diary", "How was your mood?"),
            ("breathing", "Press Start: the exercise shows one part at a time"),
            ("story", "Sam tells a short story about a good day."),
            ("fatigue-start", "Your therapist enters the score"),
            ("summary", "This is the last step of the program."),
        ],
    )
    def test_every_step_kind_renders(self, world, client_for, tiny, slug, expected):
        response = client_for(world.therapist.user).get(preview_url(tiny, slug))
        assert response.status_code == 200
        html = response.content.decode()
        assert expected in html
        assert "Preview: nothing is saved." in html
        assert 'data-read-aloud="step-text"' in html and " hidden>" in html  # shown by programs.js only
        assert 'data-font-scale="1.2"' in html
        assert "<script>" not in html  # CSP: no inline scripts

    def test_where_am_i_and_what_next(self, world, client_for, tiny):
        html = client_for(world.therapist.user).get(preview_url(tiny, "plan")).content.decode()
        assert "Module 1 of 2: The first module" in html
        assert "Step 3 of 7" in html
        assert preview_url(tiny, "mood-start") in html  # back
        assert preview_url(tiny, "start-diary") in html  # next
        assert "Next: Start your diary" in html

    def test_next_crosses_into_the_next_module(self, world, client_for, tiny):
        html = client_for(world.therapist.user).get(preview_url(tiny, "fatigue-start")).content.decode()
        assert preview_url(tiny, "summary") in html

    def test_assignment_has_every_widget_labelled(self, world, client_for, tiny):
        html = client_for(world.therapist.user).get(preview_url(tiny, "plan")).content.decode()
        assert '<aside class="worked-example"' in html
        assert 'for="id_word"' in html and 'for="id_story"' in html
        assert "<legend>Which pattern?" in html
        assert html.count('type="radio" name="sure"') == 11
        assert "10 = Completely" in html
        assert 'for="id_goals__3"' in html
        assert 'aria-live="polite"' in html and 'data-energy-points="energy"' in html
        assert html.count('class="tfd-row"') == 2
        assert "A more helpful thought" in html

    def test_dutch_version_is_rendered_in_dutch(self, world, client_for, tiny):
        from programs.models import ProgramVersion

        nl = ProgramVersion.objects.get(program__slug="tiny-program", language="nl")
        html = client_for(world.therapist.user).get(preview_url(nl, "intro")).content.decode()
        assert 'lang="nl"' in html
        assert "Welkom bij het kleine programma" in html

    def test_recording_is_played_when_the_clinic_has_one(self, world, client_for, tiny):
        media = add_recording(world.clinic, tiny_step("breathing"))
        html = client_for(world.therapist.user).get(preview_url(tiny, "breathing")).content.decode()
        assert reverse("programs:media_file", args=[media.pk, "file"]) in html
        assert "<audio" in html and "Read the text of this exercise" in html
        # Another clinic's therapist sees the transcript only.
        other = client_for(world.outsider.user).get(preview_url(tiny, "breathing")).content.decode()
        assert "<audio" not in other

    def test_video_with_captions(self, world, client_for, tiny):
        media = add_recording(world.clinic, tiny_step("story"), captions=True)
        html = client_for(world.therapist.user).get(preview_url(tiny, "story")).content.decode()
        assert '<track kind="captions"' in html
        assert reverse("programs:media_file", args=[media.pk, "captions"]) in html

    def test_valid_post_saves_nothing_and_goes_on(self, world, client_for, tiny):
        client = client_for(world.therapist.user)
        before = _row_counts()
        response = client.post(
            preview_url(tiny, "plan"),
            {
                "word": "calm",
                "story": "A story.",
                "pattern": "a",
                "sure": "7",
                "goals__1": "Walk daily",
                "energy__1": "3",
                "energy__2": "4",
                "moments__1__situation": "s",
                "moments__1__thought": "t",
                "moments__1__feeling": "f",
                "moments__1__behaviour": "b",
                "moments__1__helpful_thought": "h",
            },
        )
        assert response.status_code == 302
        assert response["Location"] == preview_url(tiny, "start-diary")
        assert _row_counts() == before
        follow = client.get(response["Location"])
        assert "Preview: nothing was saved" in follow.content.decode()

    def test_invalid_post_keeps_what_was_typed_and_saves_nothing(self, world, client_for, tiny):
        before = _row_counts()
        response = client_for(world.therapist.user).post(
            preview_url(tiny, "plan"),
            {
                "word": "calm",
                "story": "My long story stays.",
                "energy__1": "8",
                "energy__2": "8",
            },
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "My long story stays." in html
        assert "Take away 6 points" in html
        assert "Points too many" in html
        assert _row_counts() == before

    def test_questionnaire_post_is_scored_but_not_saved(self, world, client_for, tiny):
        before = _row_counts()
        data = {f"q{n}": "1" for n in range(1, 10)}
        response = client_for(world.therapist.user).post(preview_url(tiny, "mood-start"), data)
        assert response.status_code == 302
        assert _row_counts() == before
        missing = client_for(world.therapist.user).post(preview_url(tiny, "mood-start"), {"q1": "1"})
        assert missing.status_code == 200
        assert "Please answer this question." in missing.content.decode()

    def test_licensed_questionnaire_uses_the_clinics_texts(self, world, client_for, tiny):
        LicensedInstrument.objects.create(
            clinic=world.clinic,
            code="cis_fatigue",
            language="en",
            title="Licensed fatigue list",
            items=[f"Licensed statement {n}" for n in range(1, 9)],
            options=[{"value": v, "label": f"box {v}"} for v in range(1, 8)],
            reverse_scored=[1, 2],
            licence_note="Licence 123",
            source_sha256="x",
        )
        html = client_for(world.therapist.user).get(preview_url(tiny, "fatigue-start")).content.decode()
        assert "Licensed statement 8" in html and "Licence 123" in html
        other = client_for(world.outsider.user).get(preview_url(tiny, "fatigue-start")).content.decode()
        assert "Licensed statement" not in other

    def test_unknown_step_or_version_is_404(self, world, client_for, tiny):
        client = client_for(world.therapist.user)
        assert (
            client.get(reverse("programs:preview_step", args=[tiny.pk, "first", "nope"])).status_code == 404
        )
        assert (
            client.get(reverse("programs:preview_step", args=[999999, "first", "intro"])).status_code == 404
        )

    def test_preview_query_count(self, world, client_for, tiny, django_assert_max_num_queries):
        client = client_for(world.therapist.user)
        url = preview_url(tiny, "plan")
        client.get(url)
        # 6 per signed-in staff request (the session comes from the cache) + version + all steps
        # of the version (+ 1 spare for a recording or licensed texts on media and questionnaire
        # steps).
        with django_assert_max_num_queries(9):
            assert client.get(url).status_code == 200


class TestClinicSettings:
    def test_admin_switches_an_optional_step_off_and_on(self, world, client_for, tiny):
        client = client_for(world.admin.user)
        url = reverse("programs:clinic_settings", args=["tiny-program"])
        assert "first/story" in client.get(url).content.decode()
        assert client.post(url, {}).status_code == 302
        setting = ClinicProgramSetting.objects.get(clinic=world.clinic, program=tiny.program)
        assert setting.optional_steps_off == ["first/story"]
        client.post(url, {"on": ["first/story", "first/unknown"]})
        setting.refresh_from_db()
        assert setting.optional_steps_off == []
        assert setting.updated_by == world.admin.user
        assert not ClinicProgramSetting.objects.filter(clinic=world.other_clinic).exists()


class TestRecordings:
    def test_list_and_upload(self, world, client_for, tiny):
        client = client_for(world.admin.user)
        html = client.get(reverse("programs:media_list")).content.decode()
        assert "Breathing" in html and "none: the guided text is shown" in html
        step = tiny_step("breathing")
        url = reverse("programs:media_upload", args=[step.pk])
        response = client.post(
            url, {"file": SimpleUploadedFile("b.mp3", b"ID3 audio", content_type="audio/mpeg")}
        )
        assert response.status_code == 302
        media = StepMedia.objects.get(clinic=world.clinic)
        assert media.step_key == "tiny-program/first/breathing" and media.language == "en"
        # Replacing keeps one row per step and language.
        client.post(url, {"file": SimpleUploadedFile("c.mp3", b"ID3 other", content_type="audio/mpeg")})
        assert StepMedia.objects.filter(clinic=world.clinic).count() == 1

    def test_upload_refuses_wrong_types(self, world, client_for, tiny):
        client = client_for(world.admin.user)
        response = client.post(
            reverse("programs:media_upload", args=[tiny_step("story").pk]),
            {
                "file": SimpleUploadedFile("v.exe", b"MZ"),
                "captions": SimpleUploadedFile("c.vtt", b"not captions"),
            },
        )
        assert response.status_code == 200
        assert "Choose a file of type" in response.content.decode()
        assert not StepMedia.objects.exists()

    @pytest.mark.parametrize(
        "name,content",
        [
            ("page.mp3", b"<html><script>alert(1)</script></html>"),
            ("program.mp3", b"MZ\x90\x00\x03\x00\x00\x00"),
            ("video.mp3", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"),
            ("sound.wav", b"OggS\x00\x02" + b"\x00" * 20),
        ],
    )
    def test_upload_checks_the_content_not_only_the_name(self, world, client_for, tiny, name, content):
        response = client_for(world.admin.user).post(
            reverse("programs:media_upload", args=[tiny_step("breathing").pk]),
            {"file": SimpleUploadedFile(name, content, content_type="audio/mpeg")},
        )
        assert response.status_code == 200
        assert "its content does not match its name" in response.content.decode()
        assert not StepMedia.objects.exists()

    @pytest.mark.parametrize(
        "name,content",
        [
            ("a.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00"),
            ("a.mp3", b"\xff\xfb\x90\x64\x00"),
            ("a.m4a", b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00"),
            ("a.ogg", b"OggS\x00\x02" + b"\x00" * 20),
            ("a.wav", b"RIFF\x24\x08\x00\x00WAVEfmt "),
            ("a.webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"),
            ("a.aac", b"\xff\xf1\x50\x80\x02\x1f\xfc"),
        ],
    )
    def test_upload_accepts_real_audio(self, world, client_for, tiny, name, content):
        response = client_for(world.admin.user).post(
            reverse("programs:media_upload", args=[tiny_step("breathing").pk]),
            {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream")},
        )
        assert response.status_code == 302
        assert StepMedia.objects.filter(clinic=world.clinic).exists()

    def test_upload_over_the_size_limit_is_refused(self, world, client_for, tiny, settings):
        settings.ICBT_RECORDING_MAX_MB = 1
        page = client_for(world.admin.user).get(
            reverse("programs:media_upload", args=[tiny_step("breathing").pk])
        )
        assert "At most 1.0\xa0MB." in page.content.decode()
        response = client_for(world.admin.user).post(
            reverse("programs:media_upload", args=[tiny_step("breathing").pk]),
            {
                "file": SimpleUploadedFile(
                    "big.mp3", b"ID3" + b"\x00" * (1024 * 1024), content_type="audio/mpeg"
                )
            },
        )
        assert response.status_code == 200
        assert "This recording is too large (1.0\xa0MB). Recordings can be at most 1.0\xa0MB." in (
            response.content.decode()
        )
        assert not StepMedia.objects.exists()

    def test_replaced_files_are_deleted_after_commit(
        self, world, client_for, tiny, django_capture_on_commit_callbacks
    ):
        client = client_for(world.admin.user)
        url = reverse("programs:media_upload", args=[tiny_step("story").pk])
        vtt = b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n"
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                url,
                {
                    "file": SimpleUploadedFile("v.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"),
                    "captions": SimpleUploadedFile("c.vtt", vtt),
                },
            )
        first = StepMedia.objects.get()
        old_file, old_captions = first.file.name, first.captions.name
        storage = first.file.storage
        assert storage.exists(old_file) and storage.exists(old_captions)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            client.post(
                url, {"file": SimpleUploadedFile("v.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00")}
            )
        assert storage.exists(old_file), "deleted before the replacement was committed"
        for callback in callbacks:
            callback()
        media = StepMedia.objects.get()
        assert media.file.name != old_file and storage.exists(media.file.name)
        assert not storage.exists(old_file)
        assert media.captions.name == old_captions and storage.exists(old_captions)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                url,
                {
                    "file": SimpleUploadedFile("w.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00"),
                    "captions": SimpleUploadedFile("d.vtt", vtt),
                },
            )
        assert not storage.exists(old_captions)
        assert sorted(p.name for p in (settings_media_root() / media.file.name).parent.iterdir()) == sorted(
            [
                StepMedia.objects.get().file.name.rsplit("/", 1)[1],
                StepMedia.objects.get().captions.name.rsplit("/", 1)[1],
            ]
        )

    def test_the_django_admin_checks_and_cleans_up_the_same(
        self, world, client_for, tiny, django_capture_on_commit_callbacks
    ):
        from tests.factories import give_totp, make_user

        operator = give_totp(make_user("ops@platform.test", is_staff=True, is_superuser=True))
        client = client_for(operator)
        data = {"clinic": world.clinic.pk, "step_key": "tiny-program/first/breathing", "language": "en"}
        refused = client.post(
            reverse("admin:programs_stepmedia_add"),
            {**data, "file": SimpleUploadedFile("page.mp3", b"<html></html>")},
        )
        assert (
            refused.status_code == 200 and "its content does not match its name" in refused.content.decode()
        )
        assert not StepMedia.objects.exists()
        assert (
            client.post(
                reverse("admin:programs_stepmedia_add"),
                {**data, "file": SimpleUploadedFile("a.mp3", b"ID3\x04")},
            ).status_code
            == 302
        )
        media = StepMedia.objects.get()
        old = media.file.name
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("admin:programs_stepmedia_change", args=[media.pk]),
                {**data, "file": SimpleUploadedFile("b.mp3", b"ID3\x03")},
            )
        assert response.status_code == 302
        media.refresh_from_db()
        assert media.file.name != old and not media.file.storage.exists(old)

    def test_page_steps_have_no_upload(self, world, client_for, tiny):
        response = client_for(world.admin.user).get(
            reverse("programs:media_upload", args=[tiny_step("intro").pk])
        )
        assert response.status_code == 404

    def test_file_is_served_with_ranges(self, world, client_for, tiny):
        media = add_recording(world.clinic, tiny_step("breathing"), payload=bytes(range(100)))
        url = reverse("programs:media_file", args=[media.pk, "file"])
        client = client_for(world.patient_a.user)
        whole = client.get(url)
        assert whole.status_code == 200 and b"".join(whole.streaming_content) == bytes(range(100))
        assert whole["Accept-Ranges"] == "bytes"
        part = client.get(url, HTTP_RANGE="bytes=10-19")
        assert part.status_code == 206
        assert part["Content-Range"] == "bytes 10-19/100"
        assert b"".join(part.streaming_content) == bytes(range(10, 20))
        tail = client.get(url, HTTP_RANGE="bytes=-5")
        assert b"".join(tail.streaming_content) == bytes(range(95, 100))
        assert client.get(url, HTTP_RANGE="bytes=500-").status_code == 416
        assert client.get(reverse("programs:media_file", args=[media.pk, "captions"])).status_code == 404
        assert client.get(reverse("programs:media_file", args=[media.pk, "other"])).status_code == 404


LICENSED_YAML = """\
instrument: cis_fatigue
language: en
title: Fatigue statements
licence: Used under licence 2024-17 of our clinic.
instructions: Tick one box per statement.
options:
  - {value: 1, label: "yes, that is true"}
  - {value: 2, label: "2"}
  - {value: 3, label: "3"}
  - {value: 4, label: "4"}
  - {value: 5, label: "5"}
  - {value: 6, label: "6"}
  - {value: 7, label: "no, that is not true"}
reverse_scored: [1, 2, 4]
severe_threshold: 35
items:
  - Statement one
  - Statement two
  - Statement three
  - Statement four
  - Statement five
  - Statement six
  - Statement seven
  - Statement eight
"""


BILLION_LAUGHS = (
    b'instrument: cis_fatigue\na: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    + b"".join(
        f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n".encode()
        for previous, name in zip("abcdef", "bcdefg", strict=True)
    )
    + b"items: *g\n"
)


class TestLicensedQuestionnaires:
    def test_upload(self, world, client_for, django_capture_on_commit_callbacks):
        client = client_for(world.admin.user)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("programs:licensed_list"),
                {"file": SimpleUploadedFile("cis.yaml", LICENSED_YAML.encode())},
            )
        assert response.status_code == 302
        record = LicensedInstrument.objects.get(clinic=world.clinic)
        assert record.reverse_scored == [1, 2, 4] and len(record.items) == 8
        page = client.get(reverse("programs:licensed_list")).content.decode()
        assert "Fatigue statements" in page and "cis.yaml" in page and "Loaded" in page
        upload = LicensedUpload.objects.get()
        assert upload.status == "loaded" and upload.instrument == record and bytes(upload.data) == b""

    def test_bad_file_names_the_line(self, world, client_for, django_capture_on_commit_callbacks):
        bad = LICENSED_YAML.replace("reverse_scored: [1, 2, 4]", "reverse_scored: [1, 9]")
        client = client_for(world.admin.user)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("programs:licensed_list"), {"file": SimpleUploadedFile("cis.yaml", bad.encode())}
            )
        assert response.status_code == 302
        page = client.get(reverse("programs:licensed_list")).content.decode()
        assert "Refused" in page and "Line 14" in page
        assert not LicensedInstrument.objects.exists()

    def test_the_request_stores_the_file_and_parses_nothing(self, world, client_for, monkeypatch):
        """The web request only keeps the bytes; the page says the file waits to be checked."""
        from programs import content_loader

        def no_parsing(text):
            raise AssertionError("parsed in the web request")

        monkeypatch.setattr(content_loader, "load_yaml_with_lines", no_parsing)
        client = client_for(world.admin.user)
        response = client.post(
            reverse("programs:licensed_list"), {"file": SimpleUploadedFile("laughs.yaml", BILLION_LAUGHS)}
        )
        assert response.status_code == 302
        upload = LicensedUpload.objects.get()
        assert upload.status == "waiting" and bytes(upload.data) == BILLION_LAUGHS
        assert "Waiting to be checked" in client.get(reverse("programs:licensed_list")).content.decode()

    def test_billion_laughs_is_refused_in_plain_words(
        self, world, client_for, django_capture_on_commit_callbacks
    ):
        client = client_for(world.admin.user)
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                reverse("programs:licensed_list"), {"file": SimpleUploadedFile("laughs.yaml", BILLION_LAUGHS)}
            )
        assert time.monotonic() - started < 2
        upload = LicensedUpload.objects.get()
        assert upload.status == "refused" and "anchors and aliases" in upload.reason
        assert "anchors and aliases" in client.get(reverse("programs:licensed_list")).content.decode()

    def test_too_large_file_is_refused_in_the_form(self, world, client_for, settings):
        settings.ICBT_LICENSED_UPLOAD_MAX_BYTES = 100
        response = client_for(world.admin.user).post(
            reverse("programs:licensed_list"),
            {"file": SimpleUploadedFile("cis.yaml", LICENSED_YAML.encode())},
        )
        assert response.status_code == 200
        assert (
            "This file is too large for a questionnaire (at most 100\xa0bytes)." in response.content.decode()
        )
        assert not LicensedUpload.objects.exists()
