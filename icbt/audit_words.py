"""An audit event in plain words, for the patient's *Who looked at my file* and the clinic admin's
audit log: "Your therapist J. de Vries opened your diary." instead of codes such as
"view (diary_entry)". Only what the event row holds is used, and the day of the object where the
caller looked it up for the whole page at once (``patients.audit_objects``): no query per row."""

from datetime import date

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from icbt.models import AuditEvent

Action = AuditEvent.Action

# What was looked at, as the patient reads it ("your ...").
OBJECTS = {
    "patient": _("your file"),
    "enrollment": _("your program"),
    "module_state": _("your program"),
    "step_override": _("your program"),
    "diary_entry": _("your diary"),
    "assignment_answer": _("your assignment"),
    "questionnaire_response": _("your questionnaire answers"),
    "conversation": _("your messages"),
    "message": _("your messages"),
    "message_draft": _("a message to you"),
    "feedback": _("feedback to you"),
    "review": _("your work"),
    "session": _("your appointments"),
    "treatment_session": _("your appointments"),
    "intake": _("your intake"),
    "intake_request": _("your request for treatment"),
    "referral": _("your referral"),
    "care_share": _("who may see your file"),
    "staff_note": _("the notes about your treatment"),
    "staff_notes": _("the notes about your treatment"),
    "treatment_summary": _("your treatment summary"),
    "stepped_care_decision": _("a decision about your treatment"),
    "early_warning_decision": _("a decision about your treatment"),
}
SENTENCES = {
    Action.VIEW: _("%(who)s opened %(what)s."),
    Action.CREATE: _("%(who)s added to %(what)s."),
    Action.CHANGE: _("%(who)s changed %(what)s."),
    Action.DELETE: _("%(who)s removed something from %(what)s."),
    Action.EXPORT: _("%(who)s downloaded %(what)s."),
    Action.PRINT: _("%(who)s printed %(what)s."),
    Action.REVIEW: _("%(who)s reviewed %(what)s."),
}
# A review names what was read, as the patient knows it: "reviewed your answers of 3 Mar".
REVIEWED_OBJECTS = {
    "questionnaire_response": _("your answers"),
}
IN_A_LIST = _("%(who)s saw your name in a list.")
OF_DAY = _("%(what)s of %(day)s")

# What was looked at, as the clinic admin reads it: objects of a patient, and the clinic's own
# pages and settings.
ADMIN_OBJECTS = {
    "patient": _("the file"),
    "enrollment": _("the program"),
    "module_state": _("the program"),
    "step_override": _("the program"),
    "diary_entry": _("the diary"),
    "assignment_answer": _("an assignment"),
    "questionnaire_response": _("questionnaire answers"),
    "conversation": _("the messages"),
    "message": _("the messages"),
    "message_draft": _("a message to the patient"),
    "feedback": _("feedback to the patient"),
    "review": _("the patient's work"),
    "session": _("the appointments"),
    "treatment_session": _("the appointments"),
    "intake": _("the intake"),
    "intake_request": _("a request for treatment"),
    "referral": _("a referral"),
    "care_share": _("who may see the file"),
    "staff_note": _("the notes about the treatment"),
    "staff_notes": _("the notes about the treatment"),
    "treatment_summary": _("the treatment summary"),
    "stepped_care_decision": _("a decision about the treatment"),
    "early_warning_decision": _("a decision about the treatment"),
    "own_data": _("their own data"),
    "patient_list": _("the list of patients"),
    "covered_patient_list": _("the patients they stand in for"),
    "intake_request_list": _("the requests for treatment"),
    "referral_list": _("the referrals"),
    "worklist": _("the worklist"),
    "caseload": _("the caseload"),
    "clinic_report": _("the clinic report"),
    "audit_log": _("the audit log"),
    "clinic": _("the clinic's name, logo and colour"),
    "step_recording": _("a recorded exercise"),
    "user": _("their account"),
}
ADMIN_SENTENCES = {**SENTENCES, Action.SEARCH: _("%(who)s searched %(what)s.")}
ACCOUNT_SENTENCE = _("%(who)s: %(did)s.")


def short_name(user) -> str:
    """ "J. de Vries": the first initial and the last name, or the e-mail address if neither."""
    if user is None:
        return ""
    initial = f"{user.first_name[:1]}. " if user.first_name else ""
    return f"{initial}{user.last_name}".strip() or user.email


def who(event, *, therapist_user_id=None) -> str:
    name = short_name(event.user) or event.user_email
    if therapist_user_id is not None and event.user_id == therapist_user_id:
        return _("Your therapist %(name)s") % {"name": name}
    roles = set(event.role.split("+"))
    if "therapist" in roles:
        return _("Therapist %(name)s") % {"name": name}
    if "manager" in roles:
        return _("Manager %(name)s") % {"name": name}
    if "clinic_admin" in roles:
        return _("Clinic admin %(name)s") % {"name": name}
    if "patient" in roles:
        return _("The patient")
    return name


def day_words(day: date | None) -> str:
    """ "3 Mar" this year, "3 Mar 2025" another year (the page's date style)."""
    if day is None:
        return ""
    same_year = day.year == timezone.localdate().year
    return date_format(day, "MONTH_DAY_FORMAT" if same_year else "DATE_FORMAT")


def _with_day(what, day: date | None) -> str:
    return OF_DAY % {"what": what, "day": day_words(day)} if day else str(what)


def action_of(event) -> str:
    """The event's action as it is to be read. Reviews were recorded as changes until the
    ``review`` action existed; a change of the ``review`` page can only have been a review."""
    if event.action == Action.CHANGE and event.object_type == "review":
        return Action.REVIEW
    return event.action


def event_in_words(event, *, therapist_user_id=None, day: date | None = None) -> str:
    """The event as one sentence for the patient it is about; ``day`` is the day of the object
    ("your diary of 3 Mar")."""
    person = who(event, therapist_user_id=therapist_user_id)
    action = action_of(event)
    if action == Action.SEARCH or event.object_type.endswith("_list"):
        return IN_A_LIST % {"who": person}
    objects = {**OBJECTS, **REVIEWED_OBJECTS} if action == Action.REVIEW else OBJECTS
    what = _with_day(objects.get(event.object_type, _("your file")), day)
    sentence = SENTENCES.get(action, SENTENCES[Action.VIEW])
    return sentence % {"who": person, "what": what}


def event_for_admin(event, *, day: date | None = None) -> str:
    """The event as one sentence for the clinic admin's audit log: "Therapist J. de Vries
    opened the diary of 3 Mar." Sign-ins and account changes read "Manager A. Bos: signed in." """
    person = who(event)
    action = action_of(event)
    if action == Action.SEARCH and event.object_type != "audit_log":
        action = Action.VIEW  # a list page that showed patients: "opened the worklist"
    sentence = ADMIN_SENTENCES.get(action)
    if sentence is None:
        return ACCOUNT_SENTENCE % {"who": person, "did": event.get_action_display()}
    what = _with_day(ADMIN_OBJECTS.get(event.object_type, _("the file")), day)
    return sentence % {"who": person, "what": what}
