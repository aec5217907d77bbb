"""The message box in the authorization matrix (see tests/matrix.py).

Every staff URL is about patient A. therapist treats A; therapist2 is a colleague of the same
team who gets 403, except in the rows where therapist A has shared A with them (covering).
POST rows run the personas in order, so a row whose first success changes state says so.
"""

from datetime import timedelta

from django.utils import timezone

from messaging.models import FeedbackTemplate
from patients.models import DiaryEntry
from tests.matrix import NONE, Route, everyone, signed_in
from tests.messaging.helpers import diary_entry, enroll, share

STAFF_ONLY = {"patient_a": 404, "patient_b": 404}


def _enrolled(world):
    return {"enrollment": enroll(world.patient_a)}


def _enrolled_with_diary(world):
    enrollment = enroll(world.patient_a)
    return {"enrollment": enrollment, "entry": diary_entry(enrollment)}


def _enrolled_and_shared(world):
    return {"enrollment": enroll(world.patient_a), "share": share(world)}


def _templates(world):
    personal = FeedbackTemplate.objects.create(
        clinic=world.clinic, owner=world.therapist, title="Mine", body="Hello {first_name}"
    )
    clinic_wide = FeedbackTemplate.objects.create(
        clinic=world.clinic, owner=None, title="Ours", body="Well done, {first_name}."
    )
    return {"personal": personal, "clinic": clinic_wide}


def _patient_a(world, extra=None):
    return {"pk": world.patient_a.pk}


def _treating(status, **overrides):
    """Only A's therapist gets ``status``; colleagues and managers 403; other clinics and patients 404."""
    expect = signed_in(404, therapist=status, therapist2=403, manager=403, admin=403, **STAFF_ONLY)
    expect.update(overrides)
    return expect


ROUTES = [
    # The patient's own conversation (patient B has no enrollment: a page that says so).
    Route(
        "messaging:patient_conversation",
        signed_in(404, patient_a=200, patient_b=200),
        setup=_enrolled,
        audit=NONE,
    ),
    Route(
        "messaging:patient_conversation",
        signed_in(404, patient_a=302, patient_b=200),
        setup=_enrolled,
        method="post",
        data=lambda w: {"body": "Thank you, see you next week."},
        audit=NONE,
    ),
    Route(
        "messaging:patient_draft",
        signed_in(404, patient_a=302),
        setup=_enrolled,
        method="post",
        data=lambda w: {"body": "Half a thought"},
        note="without script the draft endpoint redirects back",
        audit=NONE,
    ),
    # The therapist's conversation and composer.
    Route(
        "messaging:staff_conversation",
        _treating(200),
        kwargs=_patient_a,
        setup=_enrolled,
        audit="view:conversation",
        refused="view:conversation",
    ),
    Route(
        "messaging:staff_conversation",
        _treating(200, therapist2=200),
        kwargs=_patient_a,
        setup=_enrolled_and_shared,
        note="covering: therapist2 has an active share",
        audit="view:conversation",
        refused="view:conversation",
    ),
    Route(
        "messaging:staff_conversation",
        _treating(302),
        kwargs=_patient_a,
        setup=_enrolled,
        method="post",
        data=lambda w: {"body": "Well done this week.", "send": "feedback"},
        audit=("change:conversation", "create:feedback"),
        refused="change:conversation",
    ),
    Route(
        "messaging:staff_draft",
        _treating(302),
        kwargs=_patient_a,
        setup=_enrolled,
        method="post",
        data=lambda w: {"body": "Draft"},
        audit="change:message_draft",
        refused="change:message_draft",
    ),
    Route(
        "messaging:item_review",
        _treating(302),
        kwargs=_patient_a,
        setup=_enrolled_with_diary,
        method="post",
        data=lambda w: {"item": f"diary:{DiaryEntry.objects.get(enrollment__patient=w.patient_a).pk}"},
        audit=("review:diary_entry", "review:review"),
        refused="review:review",
    ),
    # Internal notes.
    Route(
        "messaging:notes",
        _treating(200),
        kwargs=_patient_a,
        setup=_enrolled,
        audit="view:staff_notes",
        refused="view:staff_notes",
    ),
    Route(
        "messaging:notes",
        _treating(200, therapist2=200),
        kwargs=_patient_a,
        setup=_enrolled_and_shared,
        audit="view:staff_notes",
        refused="view:staff_notes",
    ),
    Route(
        "messaging:notes",
        _treating(302),
        kwargs=_patient_a,
        setup=_enrolled,
        method="post",
        data=lambda w: {"body": "Discussed pacing by phone."},
        audit=("change:staff_notes", "create:staff_note"),
        refused="change:staff_notes",
    ),
    # Covering: only the treating therapist shares; the covering colleague cannot pass A on.
    Route(
        "messaging:sharing",
        _treating(200),
        kwargs=_patient_a,
        setup=_enrolled,
        audit="view:care_share",
        refused="view:care_share",
    ),
    Route(
        "messaging:sharing",
        _treating(200),
        kwargs=_patient_a,
        setup=_enrolled_and_shared,
        audit="view:care_share",
        refused="view:care_share",
    ),
    Route(
        "messaging:sharing",
        _treating(302),
        kwargs=_patient_a,
        setup=_enrolled,
        method="post",
        data=lambda w: {
            "colleague": w.therapist2.pk,
            "until": (timezone.localdate() + timedelta(days=7)).isoformat(),
        },
        note="therapist2 gets 403 although the share now exists: only the treating therapist shares",
        audit="create:care_share",
        refused="change:care_share",
    ),
    Route(
        "messaging:share_end",
        _treating(302, therapist2=403),
        method="post",
        setup=_enrolled_and_shared,
        kwargs=lambda w, extra: {"pk": w.patient_a.pk, "share_pk": extra["share"].pk},
        note="therapist ends the share first, so the colleague is refused as any colleague",
        audit="change:care_share",
        refused="change:care_share",
    ),
    Route(
        "messaging:covering",
        signed_in(404, therapist=200, therapist2=200, outsider=200, manager=403, admin=403),
        audit="search:covered_patient_list",
    ),
    # Templates: therapists keep their own, the clinic admin keeps the clinic's.
    Route(
        "messaging:template_list",
        signed_in(404, therapist=200, therapist2=200, admin=200, outsider=200, manager=403),
        audit=NONE,
    ),
    Route(
        "messaging:template_create",
        signed_in(404, therapist=200, therapist2=200, admin=200, outsider=200, manager=403),
        audit=NONE,
    ),
    Route(
        "messaging:template_update",
        signed_in(404, therapist=200, therapist2=403, admin=403, manager=403),
        setup=_templates,
        kwargs=lambda w, extra: {"pk": extra["personal"].pk},
        audit=NONE,
    ),
    Route(
        "messaging:template_update",
        signed_in(404, therapist=403, therapist2=403, admin=200, manager=403),
        setup=_templates,
        kwargs=lambda w, extra: {"pk": extra["clinic"].pk},
        audit=NONE,
    ),
    Route(
        "messaging:template_delete",
        signed_in(404, therapist=200, therapist2=403, admin=403, manager=403),
        setup=_templates,
        kwargs=lambda w, extra: {"pk": extra["personal"].pk},
        audit=NONE,
    ),
    Route(
        "messaging:template_delete",
        signed_in(404, therapist=403, therapist2=403, admin=200, manager=403),
        setup=_templates,
        kwargs=lambda w, extra: {"pk": extra["clinic"].pk},
        audit=NONE,
    ),
]


# --- Notification e-mail settings ---------------------------------------------------------
# Everyone edits only their own settings (the page takes no id). The unsubscribe link works without
# signing in, for whoever its signed token names; a GET changes nothing, a POST turns e-mail off.


def _unsubscribe_token(world, extra=None):
    from messaging.notifications.preferences import unsubscribe_token

    return {"token": unsubscribe_token(world.patient_a.user)}


ROUTES += [
    Route("messaging:notifications:preferences", signed_in(200), audit=NONE),
    Route(
        "messaging:notifications:first_choice",
        signed_in(302, patient_a=200, patient_b=200),
        note="asked once, of patients who have not chosen; everyone else goes on",
        audit=NONE,
    ),
    Route(
        "messaging:notifications:preferences",
        signed_in(302),
        method="post",
        data=lambda w: {"email_enabled": "on", "frequency": "weekly", "hour": "7", "weekday": "4"},
        audit=NONE,
    ),
    Route("messaging:notifications:unsubscribe", everyone(200), kwargs=_unsubscribe_token, audit=NONE),
    Route(
        "messaging:notifications:unsubscribe",
        everyone(200),
        kwargs=_unsubscribe_token,
        method="post",
        audit=NONE,
    ),
    Route(
        "messaging:notifications:unsubscribe",
        everyone(404),
        kwargs=lambda w: {"token": "not-a-token"},
        note="a token that does not verify is a 404 for everyone",
        audit=NONE,
    ),
]
