from tests.matrix import NONE, Route, everyone, signed_in
from tests.patients import staff_helpers as sh

ROUTES = [
    Route("patients:home", signed_in(404, patient_a=200, patient_b=200), audit=NONE),
    Route("patients:access_log", signed_in(404, patient_a=200, patient_b=200), audit=NONE),
    Route(
        "patients:staff_patient_list",
        signed_in(404, therapist=200, therapist2=200, outsider=200, manager=403, admin=403),
        audit="search:patient_list",
    ),
    Route(
        "patients:staff_patient_invite",
        signed_in(404, therapist=200, therapist2=200, outsider=200, manager=403, admin=403),
        audit=NONE,
    ),
    Route(
        "patients:staff_patient_detail",
        signed_in(404, therapist=200, therapist2=403, manager=403, admin=403),
        kwargs=lambda w: {"pk": w.patient_a.pk},
        audit="view:patient",
        refused="view:patient",
    ),
]

# --- Getting in and the therapist's side of one patient (staff side) -----------------
# Pages about one patient: only their therapist (200 or a redirect after a change); colleagues,
# managers and admins of the clinic 403; other clinics and patients 404.
ONE_PATIENT = signed_in(404, therapist=200, therapist2=403, manager=403, admin=403)
ONE_PATIENT_CHANGED = signed_in(404, therapist=302, therapist2=403, manager=403, admin=403)
# Lists for therapists: each sees their own clinic's.
THERAPIST_LIST = signed_in(404, therapist=200, therapist2=200, outsider=200, manager=403, admin=403)
# An intake request of the clinic: its therapists; managers and admins 403; other clinics 404.
CLINIC_THERAPISTS = signed_in(404, therapist=200, therapist2=200, manager=403, admin=403)


def _a(w):
    return {"pk": w.patient_a.pk}


def _enrollment(w):
    return sh.enroll(w.patient_a)


def _enrollment_kwargs(w, enrollment):
    return {"pk": w.patient_a.pk, "enrollment_id": enrollment.pk}


ROUTES += [
    Route("patients:public_program_list", everyone(200), setup=lambda w: sh.tiny(), audit=NONE),
    Route(
        "patients:public_program",
        everyone(200),
        setup=lambda w: sh.tiny(),
        kwargs=lambda w, v: {"program_slug": "tiny-program"},
        audit=NONE,
    ),
    Route(
        "patients:public_program",
        everyone(200),
        setup=lambda w: sh.tiny(),
        kwargs=lambda w, v: {"program_slug": "tiny-program"},
        method="post",
        data=lambda w: {"name": ""},
        note="an incomplete request is shown again with its errors; nothing is stored",
        audit=NONE,
    ),
    Route(
        "patients:public_intake_sent",
        everyone(200),
        setup=lambda w: sh.tiny(),
        kwargs=lambda w, v: {"program_slug": "tiny-program"},
        audit=NONE,
    ),
    Route("patients:staff_intake_request_list", THERAPIST_LIST, audit="search:intake_request_list"),
    Route(
        "patients:staff_intake_request_detail",
        CLINIC_THERAPISTS,
        setup=lambda w: sh.intake_request(w.clinic),
        kwargs=lambda w, r: {"pk": r.pk},
        audit="view:intake_request",
        refused="view:intake_request",
    ),
    Route(
        "patients:staff_intake_request_status",
        signed_in(404, therapist=302, therapist2=302, manager=403, admin=403),
        setup=lambda w: sh.intake_request(w.clinic),
        kwargs=lambda w, r: {"pk": r.pk},
        method="post",
        data=lambda w: {"status": "contacted"},
        audit="change:intake_request",
        refused="change:intake_request",
    ),
    Route(
        "patients:staff_intake_request_invite",
        CLINIC_THERAPISTS,
        setup=lambda w: sh.intake_request(w.clinic),
        kwargs=lambda w, r: {"pk": r.pk},
        method="post",
        data=lambda w: {"first_name": ""},
        note="an incomplete invitation is shown again with its errors",
        audit="change:intake_request",
        refused="change:intake_request",
    ),
    Route("patients:staff_referral_list", THERAPIST_LIST, audit="search:referral_list"),
    Route(
        "patients:staff_referral_detail",
        CLINIC_THERAPISTS,
        setup=sh.referral,
        kwargs=lambda w, r: {"pk": r.pk},
        note="the referring and the receiving therapist",
        audit="view:referral",
        refused="view:referral",
    ),
    Route(
        "patients:staff_referral_detail",
        signed_in(404, therapist=403, therapist2=200, manager=403, admin=403),
        setup=sh.referral,
        kwargs=lambda w, r: {"pk": r.pk},
        method="post",
        data=lambda w: {"decision": ""},
        note="only the receiving therapist answers; an incomplete answer is shown again",
        audit="change:referral",
        refused="change:referral",
    ),
    Route(
        "patients:staff_referral_create",
        ONE_PATIENT,
        setup=lambda w: sh.tiny(),
        kwargs=lambda w, v: _a(w),
        audit="view:patient",
        refused="view:patient",
    ),
    Route(
        "patients:staff_intake_create",
        ONE_PATIENT,
        setup=lambda w: sh.tiny(),
        kwargs=lambda w, v: {"pk": w.patient_a.pk, "program_slug": "tiny-program"},
        audit="view:patient",
        refused="view:patient",
    ),
    Route(
        "patients:staff_intake_create",
        ONE_PATIENT,
        setup=lambda w: sh.tiny(),
        kwargs=lambda w, v: {"pk": w.patient_a.pk, "program_slug": "tiny-program"},
        method="post",
        data=lambda w: {"held_on": ""},
        note="an incomplete intake is shown again with everything typed",
        audit="change:patient",
        refused="change:patient",
    ),
    Route(
        "patients:staff_intake_detail",
        ONE_PATIENT,
        setup=sh.intake,
        kwargs=lambda w, i: {"pk": w.patient_a.pk, "intake_id": i.pk},
        audit="view:intake",
        refused="view:intake",
    ),
    Route(
        "patients:staff_enrollment_create",
        ONE_PATIENT,
        setup=lambda w: sh.tiny(),
        kwargs=lambda w, v: _a(w),
        audit="view:patient",
        refused="view:patient",
    ),
    Route(
        "patients:staff_session_create", ONE_PATIENT, kwargs=_a, audit="view:patient", refused="view:patient"
    ),
    Route(
        "patients:staff_enrollment_status",
        ONE_PATIENT,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        audit="view:enrollment",
        refused="view:enrollment",
    ),
    Route(
        "patients:staff_enrollment_status",
        ONE_PATIENT_CHANGED,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        method="post",
        data=lambda w: {"action": "pause"},
        audit="change:enrollment",
        refused="change:enrollment",
    ),
    Route(
        "patients:staff_enrollment_cadence",
        ONE_PATIENT,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        audit="view:enrollment",
        refused="view:enrollment",
    ),
    Route(
        "patients:staff_early_warning_decide",
        ONE_PATIENT_CHANGED,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        method="post",
        data=lambda w: {"decision": "call"},
        note="without a warning the decision is refused with a message (happy path: test_measurement)",
        audit="change:enrollment",
        refused="change:enrollment",
    ),
    Route(
        "patients:staff_enrollment_tailor",
        ONE_PATIENT,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        audit="view:enrollment",
        refused="view:enrollment",
    ),
    Route(
        "patients:staff_step_override",
        ONE_PATIENT_CHANGED,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        method="post",
        data=lambda w: {"step_key": "first/story", "included": "0"},
        audit=("change:enrollment", "change:step_override"),
        refused="change:enrollment",
    ),
    Route(
        "patients:staff_module_state",
        ONE_PATIENT_CHANGED,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        method="post",
        data=lambda w: {"module_number": "2", "state": "opened"},
        audit=("change:enrollment", "change:module_state"),
        refused="change:enrollment",
    ),
    Route(
        "patients:staff_enrollment_end",
        ONE_PATIENT,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        audit="view:enrollment",
        refused="view:enrollment",
    ),
    Route(
        "patients:staff_enrollment_route",
        ONE_PATIENT_CHANGED,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        method="post",
        data=lambda w: {"route": ""},
        audit="change:enrollment",
        refused="change:enrollment",
    ),
    Route(
        "patients:staff_questionnaire_enter",
        ONE_PATIENT,
        setup=_enrollment,
        kwargs=_enrollment_kwargs,
        method="post",
        data=lambda w: {"code": "phq9", "moment": "end", "total": "99"},
        note="an out-of-range score is shown again with its error",
        audit="change:enrollment",
        refused="change:enrollment",
    ),
]


# --- The patient's side -----------------------------------------------------------------
# Patient A is enrolled on the tiny fixture program; B is not (so B gets 404 on every page that
# needs an enrollment). For objects with an id (a diary entry) both are enrolled, and B still
# gets 404 on A's entry. Staff have their own pages: every patient page is 404 for them.


def _enrolled_a(world):
    from tests.patients.patient_helpers import enroll

    return enroll(world.patient_a)


def _entry_of_a(world):
    from django.utils import timezone

    from patients import services
    from tests.patients.patient_helpers import enroll, step_of

    enrollment = enroll(world.patient_a)
    enroll(world.patient_b, enrollment.version)
    diary_type = step_of(enrollment.version, "start-diary").diary_type
    return services.diary_entry_save(
        enrollment=enrollment,
        diary_type=diary_type,
        entry_date=timezone.localdate(),
        answers={"mood": 4, "note": "private"},
    )


ONLY_A = signed_in(404, patient_a=200)


def _step(module, step):
    return lambda w, e: {"module_slug": module, "step_slug": step}


ROUTES += [
    Route(
        "patients:module", ONLY_A, setup=_enrolled_a, kwargs=lambda w, e: {"module_slug": "first"}, audit=NONE
    ),
    Route("patients:step", ONLY_A, setup=_enrolled_a, kwargs=_step("first", "intro"), audit=NONE),
    Route(
        "patients:step",
        signed_in(404, patient_a=302),
        method="post",
        setup=_enrolled_a,
        kwargs=_step("first", "plan"),
        data=lambda w: {"word": "hello", "action": "draft"},
        note="an assignment saved as a draft without JavaScript",
        audit=NONE,
    ),
    Route(
        "patients:step_done",
        signed_in(404, patient_a=302),
        method="post",
        setup=_enrolled_a,
        kwargs=_step("first", "intro"),
        audit=NONE,
    ),
    Route(
        "patients:assignment_draft",
        ONLY_A,
        method="post",
        setup=_enrolled_a,
        kwargs=_step("first", "plan"),
        data=lambda w: {"story": "typing"},
        audit=NONE,
    ),
    Route("patients:diary_list", ONLY_A, setup=_enrolled_a, audit=NONE),
    Route(
        "patients:diary_detail",
        ONLY_A,
        setup=_enrolled_a,
        kwargs=lambda w, e: {"diary_slug": "mood"},
        audit=NONE,
    ),
    Route(
        "patients:diary_write",
        ONLY_A,
        setup=_enrolled_a,
        kwargs=lambda w, e: {"diary_slug": "mood"},
        audit=NONE,
    ),
    Route(
        "patients:diary_entry",
        ONLY_A,
        setup=_entry_of_a,
        kwargs=lambda w, entry: {"uid": entry.uid},
        note="B is enrolled too and still gets 404 on A's entry",
        audit=NONE,
    ),
    Route("patients:questionnaires", ONLY_A, setup=_enrolled_a, audit=NONE),
    Route(
        "patients:check_in",
        ONLY_A,
        setup=lambda w: sh.enroll(w.patient_a, sh.measured_version()),
        note="a program without a weekly check-in gives 404 (tested in test_measurement)",
        audit=NONE,
    ),
    Route(
        "patients:questionnaire_fill",
        ONLY_A,
        setup=_enrolled_a,
        kwargs=lambda w, e: {"moment": "start", "code": "pain_nrs"},
        audit=NONE,
    ),
]


# --- Reports ---------------------------------------------------------------------------
# The treatment summary is an export of one patient's data: only their therapist. The patient's
# own data: every patient their own (B gets B's, never A's: there is no id in the URL).
ROUTES += [
    Route(
        "patients:staff_treatment_summary",
        ONE_PATIENT,
        kwargs=_a,
        audit="export:treatment_summary",
        refused="export:treatment_summary",
    ),
    Route("patients:my_data", signed_in(404, patient_a=200, patient_b=200), audit=NONE),
    Route("patients:my_data_json", signed_in(404, patient_a=200, patient_b=200), audit="export:own_data"),
    Route("patients:my_data_pdf", signed_in(404, patient_a=200, patient_b=200), audit="export:own_data"),
]
