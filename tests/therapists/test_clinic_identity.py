"""A clinic's own name, logo and colour: set by its clinic admin (audited), shown in the header
to its staff and patients, never in e-mails to patients; the logo is made safe and capped; every
colour of the palette keeps WCAG AA contrast."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from icbt.logos import MAX_BYTES, logo_clean
from icbt.models import AuditEvent
from icbt.models.tenancy import ACCENT_COLOURS, Accent

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"'
    b' onload="alert(1)"><script>alert(2)</script><rect width="10" height="10" fill="#123456"'
    b' onclick="alert(3)" style="fill:url(https://evil.example/x)"/>'
    b'<foreignObject><p xmlns="http://www.w3.org/1999/xhtml">hi</p></foreignObject>'
    b'<image href="https://evil.example/i.png"/><use xlink:href="https://evil.example/s.svg#a"/>'
    b'<use href="#r"/><circle r="2" fill="url(#g)" mask="url(https://evil.example/m)"/></svg>'
)


def _luminance(hex_colour):
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a, b):
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _root_colour(css, name):
    return re.search(rf"--{name}: (#[0-9a-f]{{6}});", css).group(1)


def test_every_palette_colour_keeps_aa_contrast_and_matches_the_stylesheet():
    css = open(finders.find("css/icbt.css"), encoding="utf-8").read()
    text, soft = _root_colour(css, "text"), _root_colour(css, "soft")
    assert set(ACCENT_COLOURS) == set(Accent)
    for key, (accent, dark) in ACCENT_COLOURS.items():
        assert f".accent-{key} {{ --accent: {accent}; --accent-dark: {dark}; }}" in css
        # Links and button labels on white and on the header's background; white text on buttons.
        assert _contrast(accent, "#ffffff") >= 4.5, key
        assert _contrast(accent, soft) >= 4.5, key
        assert _contrast(dark, "#ffffff") >= 4.5, key
        # A link stays told apart from the body text by its colour alone (WCAG technique G183).
        assert _contrast(accent, text) >= 3, key


def test_an_svg_logo_loses_scripts_handlers_styles_and_outside_references():
    clean, content_type = logo_clean(SVG)
    assert content_type == "image/svg+xml"
    text = clean.decode()
    for unsafe in (
        "script",
        "alert",
        "onload",
        "onclick",
        "style",
        "foreignObject",
        "evil.example",
        "<image",
    ):
        assert unsafe not in text, unsafe
    assert 'fill="#123456"' in text and 'href="#r"' in text and 'fill="url(#g)"' in text


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
        b"<html><body>not an svg</body></html>",
        b"GIF89a....",
        b"\x89PNG\r\n\x1a\nbroken",
        '<svg xmlns="http://www.w3.org/2000/svg"/>'.encode("utf-16"),
        b'<svg xmlns="http://www.w3.org/2000/svg">' + b" " * MAX_BYTES + b"</svg>",
    ],
)
def test_what_cannot_be_made_safe_is_refused(data):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        logo_clean(data)


def test_a_png_logo_is_encoded_again_without_its_extra_data():
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 10), "#0e7c7c").save(out, format="PNG")
    clean, content_type = logo_clean(out.getvalue() + b"<script>trailing</script>")
    assert content_type == "image/png" and b"script" not in clean
    assert Image.open(io.BytesIO(clean)).size == (20, 10)


@pytest.mark.django_db
def test_the_clinic_admin_sets_name_colour_and_logo_and_staff_and_patients_see_them(world, client_for):
    admin = client_for(world.admin.user)
    url = reverse("therapists:clinic_identity")
    logo = SimpleUploadedFile("logo.svg", SVG, content_type="image/svg+xml")
    response = admin.post(url, {"display_name": "Linde Pijncentrum", "accent": "teal", "logo_file": logo})
    assert response.status_code == 302
    world.clinic.refresh_from_db()
    assert world.clinic.display_name == "Linde Pijncentrum" and world.clinic.accent == "teal"
    assert world.clinic.logo_type == "image/svg+xml" and b"script" not in bytes(world.clinic.logo)
    event = AuditEvent.objects.get(object_type="clinic", action="change")
    assert event.user_id == world.admin.user.pk and event.clinic_id == world.clinic.pk
    for user in (world.therapist.user, world.patient_a.user):
        html = client_for(user).get(reverse("personal_settings")).content.decode()
        assert '<body class="accent-teal">' in html
        assert 'class="brand-logo" src="data:image/svg+xml;base64,' in html
        assert 'alt="Linde Pijncentrum"' in html
    response = admin.post(url, {"display_name": "", "accent": "", "remove_logo": "on"})
    world.clinic.refresh_from_db()
    assert world.clinic.logo_type == "" and world.clinic.accent == ""
    html = client_for(world.patient_a.user).get(reverse("personal_settings")).content.decode()
    assert "<body>" in html and f'<span class="brand-clinic">{world.clinic.name}</span>' in html


@pytest.mark.django_db
def test_a_refused_logo_is_explained_and_nothing_changes(world, client_for):
    admin = client_for(world.admin.user)
    bad = SimpleUploadedFile("logo.svg", b"<!DOCTYPE svg><svg/>", content_type="image/svg+xml")
    response = admin.post(
        reverse("therapists:clinic_identity"), {"display_name": "X", "accent": "", "logo_file": bad}
    )
    assert response.status_code == 200
    assert "This SVG file has parts we do not accept" in response.content.decode()
    world.clinic.refresh_from_db()
    assert world.clinic.display_name == "" and not world.clinic.logo_type
    assert not AuditEvent.objects.filter(object_type="clinic").exists()


@pytest.mark.django_db
def test_the_colour_choices_are_a_group_with_its_legend_above(world, client_for):
    html = client_for(world.admin.user).get(reverse("therapists:clinic_identity")).content.decode()
    group = html[html.index('<fieldset class="field choice-group') :]
    assert group.index("<legend>Colour") < group.index('type="radio"')


def _png(colour="#0e7c7c"):
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db
def test_the_treatment_summary_pdf_carries_the_clinic_name_and_logo(world, client_for):
    import io

    from pypdf import PdfReader

    world.clinic.display_name = "Linde Pijncentrum"
    world.clinic.logo, world.clinic.logo_type = logo_clean(_png())
    world.clinic.save()
    response = client_for(world.therapist.user).get(
        reverse("patients:staff_treatment_summary", kwargs={"pk": world.patient_a.pk})
    )
    page = PdfReader(io.BytesIO(response.content)).pages[0]
    assert "Linde Pijncentrum" in page.extract_text()
    assert len(page.images) == 1


@pytest.mark.django_db
def test_a_staff_invitation_names_the_clinic_and_a_patient_invitation_does_not(
    world, client_for, django_capture_on_commit_callbacks
):
    from django.core import mail

    from icbt.models import Invitation
    from icbt.services import invitation_create

    world.clinic.display_name = "Linde Pijncentrum"
    world.clinic.save()
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(user=world.therapist2.user, kind=Invitation.Kind.STAFF, created_by=world.admin.user)
        invitation_create(
            user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=world.therapist.user
        )
    to_staff, to_patient = mail.outbox
    assert "Linde Pijncentrum" in to_staff.body and "Linde Pijncentrum" in to_staff.alternatives[0][0]
    assert "Linde" not in to_patient.body + to_patient.alternatives[0][0]


def _invite_both(world, capture):
    from django.core import mail

    from icbt.models import Invitation
    from icbt.services import invitation_create

    with capture(execute=True):
        invitation_create(user=world.therapist2.user, kind=Invitation.Kind.STAFF, created_by=world.admin.user)
        invitation_create(
            user=world.patient_a.user, kind=Invitation.Kind.PATIENT, created_by=world.therapist.user
        )
    return mail.outbox


def _inline_images(message):
    return [part for part in message.message().walk() if part.get_content_maintype() == "image"]


@pytest.mark.django_db
def test_a_staff_invitation_shows_a_png_logo_inline_and_a_patient_invitation_no_logo(
    world, django_capture_on_commit_callbacks
):
    world.clinic.logo, world.clinic.logo_type = logo_clean(_png())
    world.clinic.save()
    to_staff, to_patient = _invite_both(world, django_capture_on_commit_callbacks)
    html = to_staff.alternatives[0][0]
    assert '<img src="cid:clinic-logo" alt=""' in html
    (image,) = _inline_images(to_staff)
    assert image["Content-ID"] == "<clinic-logo>" and image.get_payload(decode=True) == bytes(
        world.clinic.logo
    )
    assert to_staff.message().get_content_subtype() == "related"
    assert _inline_images(to_patient) == [] and "cid:" not in to_patient.alternatives[0][0]
    assert "Alpha" not in to_patient.body + to_patient.alternatives[0][0]


@pytest.mark.django_db
def test_an_svg_logo_stays_out_of_e_mails(world, django_capture_on_commit_callbacks):
    world.clinic.logo, world.clinic.logo_type = logo_clean(SVG)
    world.clinic.save()
    to_staff, _to_patient = _invite_both(world, django_capture_on_commit_callbacks)
    assert _inline_images(to_staff) == [] and "cid:" not in to_staff.alternatives[0][0]
    assert "Alpha Clinic" in to_staff.body
