"""Every write on a patient's record, by topic. The public names are re-exported here, so
``from patients import services`` then ``services.step_visit(...)`` keeps working; modules of this
package import from one another's topic module, never from here."""

from patients.services.care import (
    early_warning_decide,
    questionnaire_score_enter,
    stepped_care_decide,
    treatment_session_record,
)
from patients.services.enrollment import (
    ENROLLMENT_TRANSITIONS,
    REASON_REQUIRED,
    TERMINAL_STATUSES,
    enrollment_activate,
    enrollment_cadence_change,
    enrollment_complete,
    enrollment_create,
    enrollment_feedback_given,
    enrollment_route_confirm,
    enrollment_status_change,
)
from patients.services.intake import (
    goals_step,
    intake_answers,
    intake_record,
    intake_request_create,
    intake_request_invite,
    intake_request_status_set,
    patient_invite,
)
from patients.services.recording import (
    record_change,
    timeline_record,
)
from patients.services.referrals import (
    referral_accept,
    referral_create,
    referral_decline,
)
from patients.services.sharing import (
    SHARE_MAX_DAYS,
    share_create,
    share_end,
)
from patients.services.tailoring import (
    MODULE_DEFAULT,
    module_state_set,
    step_override_set,
)
from patients.services.work import (
    DIARY_ENTRY_DAYS_BACK,
    DOUBLE_SUBMIT_WINDOW,
    assignment_answers_check,
    assignment_draft_save,
    assignment_submit,
    check_in_submit,
    diary_entry_answers,
    diary_entry_editable,
    diary_entry_save,
    diary_step_open,
    items_mark_reviewed,
    questionnaire_draft_get,
    questionnaire_draft_save,
    questionnaire_submit,
    step_visit,
)

__all__ = [
    "timeline_record",
    "record_change",
    "patient_invite",
    "intake_request_create",
    "intake_request_status_set",
    "intake_request_invite",
    "intake_record",
    "intake_answers",
    "goals_step",
    "referral_create",
    "referral_accept",
    "referral_decline",
    "TERMINAL_STATUSES",
    "enrollment_feedback_given",
    "enrollment_create",
    "ENROLLMENT_TRANSITIONS",
    "REASON_REQUIRED",
    "enrollment_activate",
    "enrollment_status_change",
    "enrollment_complete",
    "enrollment_cadence_change",
    "enrollment_route_confirm",
    "DIARY_ENTRY_DAYS_BACK",
    "step_visit",
    "assignment_answers_check",
    "assignment_draft_save",
    "assignment_submit",
    "diary_entry_editable",
    "diary_entry_save",
    "diary_step_open",
    "diary_entry_answers",
    "questionnaire_submit",
    "questionnaire_draft_get",
    "questionnaire_draft_save",
    "DOUBLE_SUBMIT_WINDOW",
    "check_in_submit",
    "items_mark_reviewed",
    "step_override_set",
    "MODULE_DEFAULT",
    "module_state_set",
    "treatment_session_record",
    "questionnaire_score_enter",
    "stepped_care_decide",
    "early_warning_decide",
    "SHARE_MAX_DAYS",
    "share_create",
    "share_end",
]
