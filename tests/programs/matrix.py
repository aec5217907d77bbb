from django.core.files.uploadedfile import SimpleUploadedFile

from tests.matrix import NONE, Route, signed_in
from tests.programs.helpers import OGG_HEAD, add_part, add_recording, load_tiny, tiny_step


def _tiny(world):
    return load_tiny()


def _step_kwargs(slug):
    def kwargs(world, version):
        step = tiny_step(slug)
        return {"version_id": version.pk, "module_slug": step.module.slug, "step_slug": step.slug}

    return kwargs


def _recording(world):
    load_tiny()
    return add_recording(world.clinic, tiny_step("breathing"))


def _breathing(world, extra=None):
    return {"step_id": tiny_step("breathing").pk}


def _part(*, published):
    def setup(world):
        load_tiny()
        return add_part(world.clinic, tiny_step("breathing"), published=published)

    return setup


# Therapists and clinic admins may view and preview programs; managers are staff without that
# need (403); patients and the anonymous never see staff pages (404 / sign in).
VIEWERS = signed_in(404, therapist=200, therapist2=200, admin=200, outsider=200, manager=403)
CLINIC_ADMIN = signed_in(404, therapist=403, therapist2=403, manager=403, admin=200, outsider=403)

ROUTES = [
    Route("programs:program_list", VIEWERS, audit=NONE),
    Route(
        "programs:program_detail",
        VIEWERS,
        setup=_tiny,
        kwargs=lambda w, v: {"program_slug": "tiny-program", "language": "en"},
        audit=NONE,
    ),
    Route(
        "programs:preview_start",
        signed_in(404, therapist=302, therapist2=302, admin=302, outsider=302, manager=403),
        setup=_tiny,
        kwargs=lambda w, v: {"version_id": v.pk},
        audit=NONE,
    ),
    Route("programs:preview_step", VIEWERS, setup=_tiny, kwargs=_step_kwargs("plan"), audit=NONE),
    Route(
        "programs:preview_step",
        VIEWERS,
        setup=_tiny,
        kwargs=_step_kwargs("plan"),
        method="post",
        data=lambda w: {"word": ""},
        note="an invalid answer is shown again with its errors; nothing is saved",
        audit=NONE,
    ),
    Route(
        "programs:clinic_settings",
        CLINIC_ADMIN,
        setup=_tiny,
        kwargs=lambda w, v: {"program_slug": "tiny-program"},
        audit=NONE,
    ),
    Route(
        "programs:clinic_settings",
        signed_in(404, therapist=403, therapist2=403, manager=403, admin=302, outsider=403),
        setup=_tiny,
        kwargs=lambda w, v: {"program_slug": "tiny-program"},
        method="post",
        data=lambda w: {"on": ["first/story"]},
        audit=NONE,
    ),
    Route("programs:media_list", CLINIC_ADMIN, audit=NONE),
    Route(
        "programs:media_upload",
        CLINIC_ADMIN,
        setup=_tiny,
        kwargs=lambda w, v: {"step_id": tiny_step("breathing").pk},
        audit=NONE,
    ),
    Route("programs:licensed_list", CLINIC_ADMIN, audit=NONE),
    Route(
        "programs:media_file",
        signed_in(200, outsider=404),
        setup=_recording,
        kwargs=lambda w, media: {"media_id": media.pk, "part": "file"},
        note="the clinic's own staff and patients may play its recordings; other clinics get 404",
        audit=NONE,
    ),
    Route("programs:media_studio", CLINIC_ADMIN, setup=_tiny, kwargs=_breathing, audit=NONE),
    Route(
        "programs:media_part_record",
        signed_in(404, therapist=403, therapist2=403, manager=403, admin=302, outsider=403),
        setup=_tiny,
        kwargs=lambda w, v: {**_breathing(w), "position": 1},
        method="post",
        data=lambda w: {"file": SimpleUploadedFile("part-1.ogg", OGG_HEAD, content_type="audio/ogg")},
        audit=NONE,
    ),
    Route(
        "programs:media_publish",
        signed_in(404, therapist=403, therapist2=403, manager=403, admin=302, outsider=403),
        setup=_tiny,
        kwargs=_breathing,
        method="post",
        note="with nothing recorded the admin is sent back to the recording page with the reason",
        audit=NONE,
    ),
    Route(
        "programs:media_part_file",
        signed_in(200, outsider=404),
        setup=_part(published=True),
        kwargs=lambda w, part: {"part_id": part.pk},
        note="a published part: the clinic's own staff and patients may play it",
        audit=NONE,
    ),
    Route(
        "programs:media_part_file",
        signed_in(404, admin=200),
        setup=_part(published=False),
        kwargs=lambda w, part: {"part_id": part.pk},
        note="a part not published yet: only the clinic's admins hear it",
        audit=NONE,
    ),
]
