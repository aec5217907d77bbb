"""Every form that accepts input, as the fuzz tests reach it: who fills it in, the page that shows
it, and what must be prepared first.

``page(world, extra)`` is the URL of the page that shows the form (read to learn its fields);
``action`` (optional) the URL the form posts to when that is another one; ``has`` a field name
that picks the right form when the page has several. ``overrides`` fixes values that a plain
baseline would get wrong (unique e-mail addresses, the button pressed). ``fresh(world, extra)``
makes a new object before every example when a successful submission uses one up (an
invitation link, a referral once answered); ``page`` and ``action`` then receive it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

_serial = itertools.count(1)


def unique_email():
    return f"fuzz-{next(_serial)}@example.org"


@dataclass
class Target:
    id: str
    persona: str
    page: Callable
    setup: Callable | None = None
    action: Callable | None = None
    has: str = ""
    method: str = "post"
    overrides: dict = field(default_factory=dict)
    skip: set = field(default_factory=set)
    fresh: Callable | None = None  # (world, extra) -> a new extra, before every example
    # A 200 answer to a POST is the form shown again: it must say what is wrong and keep the rest.
    rerender_is_rejection: bool = True
    # Far too long text (over every limit) must never be accepted.
    oversize_rejected: bool = True
    json: bool = False  # the endpoint answers JSON (drafts), not a page
    uploads: dict = field(default_factory=dict)  # file fields: name -> kind of file
    settings: dict = field(default_factory=dict)
    # Fields whose typed value the page does not show again (by design).
    not_kept: set = field(default_factory=set)
    buttons: set = field(default_factory=set)  # submit buttons whose (first) value is sent
    # Fields where any value is accepted by design (the honeypot: a bot is shown "sent").
    anything_goes: set = field(default_factory=set)


# --- Setups ------------------------------------------------------------------------------------


def _tiny(world):
    from tests.patients import staff_helpers as sh

    return sh.tiny()


def _enrolled(world):
    from tests.patients.patient_helpers import enroll

    return enroll(world.patient_a)


def _staff_enrolled(world):
    from tests.patients import staff_helpers as sh

    return sh.enroll(world.patient_a)


def _new_patient_enrolled(version_of):
    """A new patient of the therapist, enrolled: for forms that close the enrollment they post."""

    def fresh(world, extra=None):
        from tests.factories import make_patient
        from tests.patients import staff_helpers as sh

        patient = make_patient(world.clinic, world.therapist, unique_email())
        return sh.enroll(patient, version_of())

    return fresh


def _tiny_version():
    from tests.patients import staff_helpers as sh

    return sh.tiny()


def _fatigue_version():
    from programs.models import ProgramVersion
    from tests.patients import staff_helpers as sh

    return ProgramVersion.objects.filter(program__slug="master-your-fatigue").first() or sh.fatigue_version()


def _own_end_url(w, e):
    return reverse("patients:staff_enrollment_end", kwargs={"pk": e.patient_id, "enrollment_id": e.pk})


def _trained_colleague(world):
    import datetime

    world.therapist2.training_date = datetime.date(2025, 3, 1)
    world.therapist2.save(update_fields=["training_date"])
    return _tiny(world)


def _intake_request(world):
    from tests.patients import staff_helpers as sh

    return sh.intake_request(world.clinic)


def _referral(world):
    from tests.patients import staff_helpers as sh

    return sh.referral(world)


def _messaging(world):
    from tests.messaging.helpers import diary_entry, enroll, submitted_answer

    enrollment = enroll(world.patient_a)
    return {
        "enrollment": enrollment,
        "entry": diary_entry(enrollment),
        "answer": submitted_answer(enrollment),
    }


def _template(world):
    from messaging.models import FeedbackTemplate

    return FeedbackTemplate.objects.create(
        clinic=world.clinic, owner=world.therapist, title="Mine", body="Hello {first_name}"
    )


def _invitation(world, extra=None):
    from icbt import services
    from icbt.models import Invitation, User

    user = User.objects.create_user(email=unique_email())
    token = services.invitation_create(user=user, kind=Invitation.Kind.PATIENT, created_by=None)
    return reverse("invitation_accept", kwargs={"token": token})


def _media_step(world):
    from tests.programs.helpers import load_tiny, tiny_step

    load_tiny()
    return tiny_step("breathing")


def _a(world, extra=None):
    return {"pk": world.patient_a.pk}


def _enrollment_url(name):
    return lambda w, e: reverse(name, kwargs={"pk": w.patient_a.pk, "enrollment_id": e.pk})


def _detail(w, e=None):
    return reverse("patients:staff_patient_detail", kwargs={"pk": w.patient_a.pk})


def _enrollment_page(w, e):
    return reverse("patients:staff_enrollment_tailor", kwargs={"pk": w.patient_a.pk, "enrollment_id": e.pk})


def _conversation(w, extra=None):
    return reverse("messaging:staff_conversation", kwargs={"pk": w.patient_a.pk})


TARGETS = [
    # --- Accounts and settings ---
    Target("personal_settings", "patient_a", lambda w, e: reverse("personal_settings"), has="language"),
    Target(
        "invitation_set_password",
        "anonymous",
        lambda w, url: url,
        fresh=_invitation,
        has="password1",
        not_kept={"password1", "password2"},
    ),
    Target(
        "email_change",
        "patient_a",
        lambda w, e: reverse("email_change"),
        has="email",
        not_kept={"password"},
    ),
    Target(
        "notification_preferences",
        "therapist",
        lambda w, e: reverse("messaging:notifications:preferences"),
        has="frequency",
    ),
    # --- Getting in ---
    Target(
        "public_intake_request",
        "anonymous",
        lambda w, e: reverse("patients:public_program", kwargs={"program_slug": "tiny-program"}),
        setup=_tiny,
        has="consent",
        settings={"ICBT_INTAKE_REQUESTS_PER_HOUR": 100_000},
        overrides={"website": ""},
        anything_goes={"website"},
    ),
    Target(
        "staff_patient_invite",
        "therapist",
        lambda w, e: reverse("patients:staff_patient_invite"),
        has="email",
        overrides={"email": unique_email},
    ),
    Target(
        "staff_invite",
        "admin",
        lambda w, e: reverse("therapists:staff_invite"),
        has="email",
        overrides={"email": unique_email},
    ),
    Target(
        "intake_request_status",
        "therapist",
        lambda w, r: reverse("patients:staff_intake_request_detail", kwargs={"pk": r.pk}),
        setup=_intake_request,
        action=lambda w, r: reverse("patients:staff_intake_request_status", kwargs={"pk": r.pk}),
        has="status",
    ),
    Target(
        "intake_request_invite",
        "therapist",
        lambda w, r: reverse("patients:staff_intake_request_detail", kwargs={"pk": r.pk}),
        fresh=lambda w, r: _intake_request(w),
        action=lambda w, r: reverse("patients:staff_intake_request_invite", kwargs={"pk": r.pk}),
        has="first_name",
        overrides={"email": unique_email},
    ),
    Target(
        "referral_create",
        "therapist",
        lambda w, v: reverse("patients:staff_referral_create", kwargs=_a(w)),
        setup=_trained_colleague,
        has="to_therapist",
    ),
    Target(
        "referral_decision",
        "therapist2",
        lambda w, r: reverse("patients:staff_referral_detail", kwargs={"pk": r.pk}),
        fresh=lambda w, r: _referral(w),
        has="decision",
    ),
    Target(
        "intake_general",
        "therapist",
        lambda w, v: reverse(
            "patients:staff_intake_create", kwargs={"pk": w.patient_a.pk, "program_slug": "tiny-program"}
        ),
        setup=_tiny,
        has="held_on",
    ),
    Target(
        "intake_pain",
        "therapist",
        lambda w, v: reverse(
            "patients:staff_intake_create", kwargs={"pk": w.patient_a.pk, "program_slug": "master-your-pain"}
        ),
        setup=lambda w: __import__("tests.patients.staff_helpers", fromlist=["x"]).pain_version(),
        has="held_on",
    ),
    Target(
        "intake_fatigue",
        "therapist",
        lambda w, v: reverse(
            "patients:staff_intake_create",
            kwargs={"pk": w.patient_a.pk, "program_slug": "master-your-fatigue"},
        ),
        setup=lambda w: __import__("tests.patients.staff_helpers", fromlist=["x"]).fatigue_version(),
        has="held_on",
    ),
    # --- The therapist's side of one patient ---
    Target(
        "enrollment_create",
        "therapist",
        lambda w, v: reverse("patients:staff_enrollment_create", kwargs=_a(w)),
        setup=_tiny,
        has="start_date",
    ),
    Target(
        "session_record",
        "therapist",
        lambda w, e: reverse("patients:staff_session_create", kwargs=_a(w)),
        has="minutes",
    ),
    Target(
        "enrollment_status",
        "therapist",
        _enrollment_url("patients:staff_enrollment_status"),
        setup=_staff_enrolled,
        has="reason",
    ),
    Target(
        "enrollment_cadence",
        "therapist",
        _enrollment_url("patients:staff_enrollment_cadence"),
        setup=_staff_enrolled,
        has="feedback_cadence",
    ),
    Target(
        "step_override",
        "therapist",
        _enrollment_page,
        setup=_staff_enrolled,
        has="step_key",
        action=_enrollment_url("patients:staff_step_override"),
    ),
    Target(
        "module_state",
        "therapist",
        _enrollment_page,
        setup=_staff_enrolled,
        has="module_number",
        action=_enrollment_url("patients:staff_module_state"),
    ),
    Target(
        "questionnaire_enter",
        "therapist",
        _enrollment_url("patients:staff_enrollment_end"),
        setup=_staff_enrolled,
        has="total",
        action=_enrollment_url("patients:staff_questionnaire_enter"),
    ),
    Target(
        "enrollment_complete",
        "therapist",
        _own_end_url,
        fresh=_new_patient_enrolled(_tiny_version),
        has="reason",
        action=_own_end_url,
    ),
    Target(
        "stepped_care_decision",
        "therapist",
        _own_end_url,
        fresh=_new_patient_enrolled(_fatigue_version),
        has="decision",
        action=_own_end_url,
    ),
    # --- The patient's side ---
    Target(
        "assignment_submit",
        "patient_a",
        lambda w, e: reverse("patients:step", kwargs={"module_slug": "first", "step_slug": "plan"}),
        setup=_enrolled,
        has="word",
        overrides={"action": "submit"},
    ),
    Target(
        "assignment_draft_button",
        "patient_a",
        lambda w, e: reverse("patients:step", kwargs={"module_slug": "first", "step_slug": "plan"}),
        setup=_enrolled,
        has="word",
        overrides={"action": "draft"},
        oversize_rejected=False,
        rerender_is_rejection=False,
    ),
    Target(
        "assignment_draft_endpoint",
        "patient_a",
        lambda w, e: reverse("patients:step", kwargs={"module_slug": "first", "step_slug": "plan"}),
        setup=_enrolled,
        has="word",
        action=lambda w, e: reverse(
            "patients:assignment_draft", kwargs={"module_slug": "first", "step_slug": "plan"}
        ),
        json=True,
        oversize_rejected=False,
        rerender_is_rejection=False,
    ),
    Target(
        "diary_entry",
        "patient_a",
        lambda w, e: reverse("patients:diary_write", kwargs={"diary_slug": "mood"}),
        setup=_enrolled,
        has="mood",
    ),
    Target(
        "questionnaire_fill",
        "patient_a",
        lambda w, e: reverse("patients:questionnaire_fill", kwargs={"moment": "start", "code": "pain_nrs"}),
        setup=_enrolled,
        has="q1",
    ),
    Target(
        "patient_message",
        "patient_a",
        lambda w, e: reverse("messaging:patient_conversation"),
        setup=_enrolled,
        has="body",
    ),
    Target(
        "patient_message_draft",
        "patient_a",
        lambda w, e: reverse("messaging:patient_conversation"),
        setup=_enrolled,
        has="body",
        action=lambda w, e: reverse("messaging:patient_draft"),
        oversize_rejected=False,
        rerender_is_rejection=False,
    ),
    # --- Messages, feedback, notes, templates ---
    Target(
        "staff_composer",
        "therapist",
        _conversation,
        setup=_messaging,
        has="send",
        overrides={"send": "feedback"},
    ),
    Target(
        "staff_composer_draft",
        "therapist",
        _conversation,
        setup=_messaging,
        has="send",
        action=lambda w, e: reverse("messaging:staff_draft", kwargs=_a(w)),
        oversize_rejected=False,
        rerender_is_rejection=False,
    ),
    Target(
        "item_review",
        "therapist",
        _conversation,
        setup=_messaging,
        has="item",
        buttons={"item"},
        action=lambda w, e: reverse("messaging:item_review", kwargs=_a(w)),
        rerender_is_rejection=False,
    ),
    Target(
        "note",
        "therapist",
        lambda w, e: reverse("messaging:notes", kwargs=_a(w)),
        setup=_messaging,
        has="body",
    ),
    Target(
        "sharing",
        "therapist",
        lambda w, e: reverse("messaging:sharing", kwargs=_a(w)),
        setup=_messaging,
        has="colleague",
        overrides={"until": lambda: (timezone.localdate() + timedelta(days=3)).isoformat()},
    ),
    Target("template_create", "therapist", lambda w, e: reverse("messaging:template_create"), has="title"),
    Target(
        "template_update",
        "therapist",
        lambda w, t: reverse("messaging:template_update", kwargs={"pk": t.pk}),
        setup=_template,
        has="title",
    ),
    Target("template_create_clinic", "admin", lambda w, e: reverse("messaging:template_create"), has="title"),
    # --- Clinic pages ---
    Target(
        "audit_search",
        "admin",
        lambda w, e: reverse("therapists:audit_search"),
        method="get",
        has="staff_member",
        rerender_is_rejection=False,
        oversize_rejected=False,
    ),
    Target(
        "worklist_filter",
        "therapist",
        lambda w, e: reverse("therapists:worklist"),
        method="get",
        has="kind",
        rerender_is_rejection=False,
        oversize_rejected=False,
    ),
    Target(
        "dashboard_filter",
        "manager",
        lambda w, e: reverse("therapists:dashboard"),
        method="get",
        has="team",
        rerender_is_rejection=False,
        oversize_rejected=False,
    ),
    Target(
        "preview_step",
        "therapist",
        lambda w, v: reverse(
            "programs:preview_step", kwargs={"version_id": v.pk, "module_slug": "first", "step_slug": "plan"}
        ),
        setup=_tiny,
        has="word",
    ),
    Target(
        "clinic_program_settings",
        "admin",
        lambda w, v: reverse("programs:clinic_settings", kwargs={"program_slug": "tiny-program"}),
        setup=_tiny,
        has="on",
        rerender_is_rejection=False,
    ),
    Target(
        "media_upload",
        "admin",
        lambda w, s: reverse("programs:media_upload", kwargs={"step_id": s.pk}),
        setup=_media_step,
        has="file",
        uploads={"file": "media", "captions": "captions"},
    ),
    Target(
        "clinic_identity",
        "admin",
        lambda w, e: reverse("therapists:clinic_identity"),
        has="display_name",
        uploads={"logo_file": "logo"},
    ),
    Target(
        "licensed_questionnaire_upload",
        "admin",
        lambda w, e: reverse("programs:licensed_list"),
        has="file",
        uploads={"file": "questionnaire"},
    ),
]
