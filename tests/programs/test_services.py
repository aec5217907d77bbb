"""Services for the clinic's own additions (licensed texts, defaults, recordings)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from programs import selectors, services
from programs.models import ClinicProgramSetting, LicensedInstrument
from tests.programs.helpers import tiny_step
from tests.programs.test_views import LICENSED_YAML

pytestmark = pytest.mark.django_db

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00video"


@pytest.fixture
def clinic(db):
    from icbt.models import Clinic

    return Clinic.objects.create(name="Service Clinic")


@pytest.fixture
def user(db):
    from tests.factories import make_user

    return make_user("admin@service.test")


def _json_file(**changes):
    import yaml

    doc = yaml.safe_load(LICENSED_YAML)
    doc.update(changes)
    return json.dumps(doc).encode()


def test_licensed_json_is_accepted_and_replaces_earlier_texts(clinic, user):
    services.licensed_instrument_load(clinic=clinic, data=LICENSED_YAML.encode(), uploaded_by=None)
    record = services.licensed_instrument_load(
        clinic=clinic, data=_json_file(title="Second edition"), uploaded_by=user
    )
    assert LicensedInstrument.objects.filter(clinic=clinic).count() == 1
    assert record.title == "Second edition" and record.uploaded_by == user
    found = selectors.licensed_instrument_for(clinic_id=clinic.pk, code="cis_fatigue", language="nl")
    assert found == record  # English stands in for Dutch
    assert (
        selectors.licensed_instrument_for(clinic_id=clinic.pk + 1000, code="cis_fatigue", language="en")
        is None
    )


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"instrument": "phq9"}, "not a licensed questionnaire"),
        ({"items": ["only one"]}, "exactly 8 texts"),
        ({"options": [{"value": 0, "label": "a"}]}, "must list the values 1, 2, 3, 4, 5, 6, 7"),
        ({"reverse_scored": [0]}, "reverse_scored"),
        ({"severe_threshold": 99}, "severe_threshold"),
        ({"language": "de"}, "language must be en or nl"),
        ({"colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_licensed_file_errors(clinic, user, changes, message):
    with pytest.raises(ValidationError) as exc:
        services.licensed_instrument_load(clinic=clinic, data=_json_file(**changes), uploaded_by=None)
    assert message in " ".join(exc.value.messages)
    assert not LicensedInstrument.objects.exists()


def test_licensed_file_that_is_not_yaml(clinic, user):
    with pytest.raises(ValidationError, match="Line"):
        services.licensed_instrument_load(clinic=clinic, data=b"items: [unclosed", uploaded_by=None)
    with pytest.raises(ValidationError):
        services.licensed_instrument_load(clinic=clinic, data=b"\xff\xfe", uploaded_by=None)


def test_defaults_keep_keys_of_steps_not_shown(clinic, user, tiny):
    ClinicProgramSetting.objects.create(
        clinic=clinic, program=tiny.program, optional_steps_off=["old-module/old-step"]
    )
    setting = services.clinic_program_setting_update(
        clinic=clinic,
        program=tiny.program,
        optional_steps_on=set(),
        known_optional={"first/story"},
        updated_by=user,
    )
    assert setting.optional_steps_off == ["first/story", "old-module/old-step"]
    assert not selectors.optional_step_is_on(tiny_step("story"), setting)
    assert selectors.optional_step_is_on(tiny_step("intro"), setting)
    with pytest.raises(ValidationError):
        services.clinic_program_setting_update(
            clinic=clinic,
            program=tiny.program,
            optional_steps_on={"nope/nope"},
            known_optional={"first/story"},
            updated_by=None,
        )


def test_recording_survives_a_new_version(clinic, user, tiny, content_root):
    media = services.step_media_upload(
        clinic=clinic,
        step=tiny_step("story"),
        language="en",
        file=SimpleUploadedFile("s.mp4", MP4),
        captions=SimpleUploadedFile("s.vtt", b"WEBVTT\n\n"),
        uploaded_by=None,
    )
    (content_root / "tiny-program/en/m1/t-story.md").write_text("Sam tells a new story.\n")
    services.program_content_load(root=content_root)
    from programs.models import Step

    newest = Step.objects.filter(slug="story", version__language="en").order_by("-version__number").first()
    assert newest.version.number == 2
    assert selectors.step_media_for(clinic_id=clinic.pk, step=newest, language="en") == media


def test_recording_only_for_media_steps(clinic, user, tiny):
    with pytest.raises(ValidationError):
        services.step_media_upload(
            clinic=clinic,
            step=tiny_step("intro"),
            language="en",
            file=SimpleUploadedFile("a.mp3", b"x"),
            uploaded_by=None,
        )
    with pytest.raises(ValidationError, match="WEBVTT"):
        services.step_media_upload(
            clinic=clinic,
            step=tiny_step("story"),
            language="en",
            file=SimpleUploadedFile("a.mp4", MP4),
            captions=SimpleUploadedFile("c.vtt", b"nope"),
            uploaded_by=None,
        )


def _waiting_upload(clinic, user, data: bytes):
    from programs.models import LicensedUpload

    return LicensedUpload.objects.create(clinic=clinic, name="cis.yaml", data=data, uploaded_by=user)


def test_licensed_upload_task_loads_once(clinic, user):
    from programs.tasks import licensed_upload_process

    upload = _waiting_upload(clinic, user, LICENSED_YAML.encode())
    assert licensed_upload_process.delay(upload.pk).get() == "loaded"
    assert licensed_upload_process.delay(upload.pk).get() == "skipped"
    upload.refresh_from_db()
    assert upload.status == "loaded" and upload.attempts == 1 and upload.finished_at is not None
    assert LicensedInstrument.objects.filter(clinic=clinic).count() == 1


def test_licensed_upload_over_the_time_limit_is_refused(clinic, user, monkeypatch):
    """Celery raises SoftTimeLimitExceeded inside the task at the soft limit; the upload is then
    refused in plain words and nothing is loaded."""
    from celery.exceptions import SoftTimeLimitExceeded

    from programs.tasks import licensed_upload_process

    def slow(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "licensed_instrument_load", slow)
    upload = _waiting_upload(clinic, user, LICENSED_YAML.encode())
    assert licensed_upload_process.delay(upload.pk).get() == "refused"
    upload.refresh_from_db()
    assert upload.status == "refused" and "took too long" in upload.reason
    assert not LicensedInstrument.objects.exists()


def test_licensed_upload_task_has_a_time_limit(settings):
    from programs.tasks import licensed_upload_process

    assert licensed_upload_process.soft_time_limit == settings.ICBT_LICENSED_UPLOAD_SECONDS
    assert licensed_upload_process.time_limit > licensed_upload_process.soft_time_limit


def test_an_upload_that_killed_a_worker_is_not_parsed_again(clinic, user, monkeypatch):
    """A worker killed at the hard limit leaves the upload waiting with one attempt counted; the
    redelivered task refuses it without parsing."""
    from programs import content_loader
    from programs.tasks import licensed_upload_process

    upload = _waiting_upload(clinic, user, LICENSED_YAML.encode())
    upload.attempts = 1
    upload.save(update_fields=["attempts"])

    def no_parsing(text):
        raise AssertionError("parsed again")

    monkeypatch.setattr(content_loader, "load_yaml_with_lines", no_parsing)
    licensed_upload_process.delay(upload.pk)
    upload.refresh_from_db()
    assert upload.status == "refused" and "took too long" in upload.reason and bytes(upload.data) == b""


def test_licensed_upload_reason_is_in_the_uploaders_language(clinic, user):
    from programs.tasks import licensed_upload_process

    user.language = "nl"
    user.save(update_fields=["language"])
    upload = _waiting_upload(clinic, user, b"title: only a title\n")
    licensed_upload_process.delay(upload.pk)
    upload.refresh_from_db()
    assert upload.status == "refused" and "ontbreekt" in upload.reason


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\n",
        "a: &x 1\n",
        "base: &b {k: 1}\nother:\n  <<: *b\n",
    ],
)
def test_yaml_anchors_and_aliases_are_refused(text):
    from programs import content_loader

    with pytest.raises(content_loader.YamlProblem, match="anchors and aliases"):
        content_loader.load_yaml_with_lines(text)


def test_block_nesting_is_capped_while_composing():
    from programs import content_loader

    deep = "".join("  " * i + f"k{i}:\n" for i in range(content_loader.MAX_NESTING + 5)) + "  " * 60 + "x\n"
    with pytest.raises(content_loader.YamlProblem, match="nested more than"):
        content_loader.load_yaml_with_lines(deep)
