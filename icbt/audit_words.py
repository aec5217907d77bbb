"""An audit event in plain words, for the patient's *Who looked at my file* and the clinic admin's
audit log: "Your therapist J. de Vries opened your diary." instead of codes such as
"view (diary_entry)". Only what the event row holds is used: no extra query per row."""

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
}
IN_A_LIST = _("%(who)s saw your name in a list.")


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
    return name


def event_in_words(event, *, therapist_user_id=None) -> str:
    """The event as one sentence for the patient it is about."""
    person = who(event, therapist_user_id=therapist_user_id)
    if event.action == Action.SEARCH or event.object_type.endswith("_list"):
        return IN_A_LIST % {"who": person}
    what = OBJECTS.get(event.object_type, _("your file"))
    sentence = SENTENCES.get(event.action, SENTENCES[Action.VIEW])
    return sentence % {"who": person, "what": what}
