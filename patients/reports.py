"""Reports about one patient: the therapist's treatment summary (PDF, for the patient's file and
for reimbursement) and the patient's own data (GDPR access and portability, PDF and JSON).

Both take a patient the caller already fetched through ``patients.access.patient_for_staff``
(the treatment summary, audited as an export) or the signed-in patient themself (own data);
nothing here checks access again, and nothing here reads another patient's rows: every query is
filtered by this patient or by one of their enrollments.

Messages are read through the reverse relations ``Enrollment.conversation`` and
``Conversation.messages`` / ``drafts``, so this app does not import ``messaging`` (layering).

**What the patient's own data holds, and what it leaves out** (GDPR art. 15 and 20, and the
Dutch WGBO right to see one's file):

- everything the patient gave or wrote: profile, answers (decrypted, the submitted version and
  the current draft), diary entries, questionnaires with item answers and scores, their messages
  and their unsent message draft;
- everything recorded about their treatment that is part of their file: enrollments, progress,
  intakes (answers, goals, decision and reason), face-to-face / phone / group sessions *with the
  session's short note*, stepped-care advice and decision with its reason, the timeline,
  colleagues who covered, and the access log ("who looked at my file");
- left out: internal staff notes (``messaging.StaffNote``) and referral notes between colleagues.
  They are the therapists' working notes and staff-to-staff correspondence, comparable to the
  "personal work notes" that the WGBO keeps outside the file; they may mention third parties. A
  patient who wants them asks the clinic, which handles the request by hand (GDPR art. 15 still
  applies to them). The export says so in ``left_out``.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from icbt.charts import Chart, Series, fmt, render_svg
from icbt.fields import decode_json_text
from icbt.models import AuditEvent
from icbt.selectors import NOT_SHOWN_TO_THE_PATIENT
from patients import charts as patient_charts
from patients import charts_measurement, intake_criteria, selectors
from patients.feedback_links import link_label
from patients.models import (
    AssignmentAnswer,
    CareShare,
    DiaryEntry,
    Enrollment,
    Intake,
    Patient,
    QuestionnaireResponse,
    Referral,
    SteppedCareDecision,
    StepProgress,
    TimelineEvent,
    TreatmentSession,
)
from patients.progress import progress_for
from programs import questionnaires
from programs.field_types import is_think_feel_do, moment_label, think_feel_do_moments

FORMAT = "icbt-own-data/1"


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _name(user) -> str:
    return (user.get_full_name() or user.email) if user is not None else ""


# --- The patient's own data ------------------------------------------------------------------------


def own_data(*, patient: Patient) -> dict:
    """Everything the application holds about ``patient`` that belongs in their copy, as plain
    JSON-ready values (see the module docstring for what is left out and why). A fixed number of
    queries per enrollment."""
    enrollments = list(
        Enrollment.objects.filter(patient=patient)
        .select_related("version__program", "therapist__user")
        .order_by("created_at", "pk")
    )
    return {
        "format": FORMAT,
        "generated_at": _iso(timezone.now()),
        "profile": _profile_data(patient),
        "enrollments": [_enrollment_data(patient, enrollment) for enrollment in enrollments],
        "intakes": [
            _intake_data(patient, intake)
            for intake in Intake.objects.filter(patient=patient)
            .select_related("program", "therapist__user")
            .order_by("held_on", "pk")
        ],
        "sessions": [
            _session_data(patient, session)
            for session in TreatmentSession.objects.filter(patient=patient)
            .select_related("recorded_by__user")
            .order_by("held_on", "pk")
        ],
        "referrals": _referrals_data(patient),
        "care_shares": _care_shares_data(patient),
        "timeline": [
            {"at": _iso(e.at), "kind": e.get_kind_display(), "detail": e.detail, "by": _name(e.actor)}
            for e in TimelineEvent.objects.filter(patient=patient)
            .select_related("actor")
            .order_by("at", "pk")
        ],
        "access_log": _access_log_data(patient),
        "left_out": [
            _(
                "Internal notes of the therapists and notes between colleagues about a referral. Ask your "
                "clinic if you want to see them."
            ),
        ],
    }


def _profile_data(patient: Patient) -> dict:
    user = patient.user
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "language": getattr(user, "language", ""),
        "case_reference": patient.case_reference,
        "clinic": patient.clinic.name,
        "therapist": _name(patient.therapist.user) if patient.therapist_id else "",
        "in_care_since": _iso(patient.created_at),
        "account_created": _iso(user.date_joined),
    }


def _referrals_data(patient: Patient) -> list[dict]:
    return [
        {
            "created_at": _iso(r.created_at),
            "program": r.program.slug,
            "status": r.get_status_display(),
            "referred_by": _name(r.referred_by.user),
            "to_therapist": _name(r.to_therapist.user),
            "decided_at": _iso(r.decided_at),
        }
        for r in Referral.objects.filter(patient=patient)
        .select_related("program", "referred_by__user", "to_therapist__user")
        .order_by("created_at", "pk")
    ]


def _care_shares_data(patient: Patient) -> list[dict]:
    return [
        {
            "colleague": _name(s.colleague.user),
            "shared_by": _name(s.shared_by.user),
            "until": _iso(s.until),
            "created_at": _iso(s.created_at),
            "ended_at": _iso(s.ended_at),
        }
        for s in CareShare.objects.filter(patient=patient)
        .select_related("colleague__user", "shared_by__user")
        .order_by("created_at", "pk")
    ]


def _access_log_data(patient: Patient) -> list[dict]:
    """Who opened the patient's data, other than the patient themself."""
    return [
        {
            "at": _iso(e.at),
            "who": e.user_email,
            "role": e.role,
            "action": e.get_action_display(),
            "outcome": e.get_outcome_display(),
            "what": e.object_type,
        }
        for e in AuditEvent.objects.filter(patient_id=patient.pk, outcome=AuditEvent.Outcome.OK)
        .exclude(user_id=patient.user_id)
        .exclude(user__isnull=True)
        .exclude(object_type__in=NOT_SHOWN_TO_THE_PATIENT)
        .order_by("at", "pk")
    ]


def _enrollment_data(patient: Patient, enrollment: Enrollment) -> dict:
    enrollment.patient = patient
    messages, drafts = _conversation_data(patient, enrollment)
    return {
        **_enrollment_summary(enrollment),
        "progress": _progress_data(enrollment),
        "assignment_answers": _answers_data(enrollment),
        "diary_entries": _diary_data(enrollment),
        "questionnaires": _responses_data(enrollment),
        "messages": messages,
        "message_drafts": drafts,
        "stepped_care": _stepped_care_data(enrollment),
    }


def _enrollment_summary(enrollment: Enrollment) -> dict:
    version = enrollment.version
    return {
        "program": version.title,
        "program_slug": version.program.slug,
        "version": version.number,
        "language": version.language,
        "status": enrollment.get_status_display(),
        "therapist": _name(enrollment.therapist.user),
        "start_date": _iso(enrollment.start_date),
        "created_at": _iso(enrollment.created_at),
        "started_at": _iso(enrollment.started_at),
        "ended_at": _iso(enrollment.ended_at),
        "status_reason": enrollment.status_reason,
        "feedback_rhythm": enrollment.get_feedback_cadence_display(),
        "feedback_weekday": enrollment.feedback_weekday,
        "last_activity_at": _iso(enrollment.last_activity_at),
        "last_feedback_at": _iso(enrollment.last_feedback_at),
    }


def _progress_data(enrollment: Enrollment) -> list[dict]:
    return [
        {
            "module": p.step.module.number,
            "module_title": p.step.module.title,
            "step": p.step.title,
            "first_seen_at": _iso(p.first_seen_at),
            "completed_at": _iso(p.completed_at),
        }
        for p in StepProgress.objects.filter(enrollment=enrollment)
        .select_related("step__module")
        .order_by("step__module__number", "step__position")
    ]


def _answers_data(enrollment: Enrollment) -> list[dict]:
    return [
        {
            "module": a.step.module.number,
            "assignment": a.step.title,
            "status": a.get_status_display(),
            "field_labels": _labels(a.step.fields),
            "answer": decode_json_text(a.content),
            "submitted_answer": decode_json_text(a.submitted_content),
            "draft_saved_at": _iso(a.draft_saved_at),
            "submitted_at": _iso(a.submitted_at),
            "reviewed_at": _iso(a.reviewed_at),
        }
        for a in AssignmentAnswer.objects.filter(enrollment=enrollment)
        .select_related("step__module")
        .order_by("step__module__number", "step__position")
    ]


def _diary_data(enrollment: Enrollment) -> list[dict]:
    return [
        {
            "diary": d.diary_type.title,
            "field_labels": _labels(d.diary_type.fields),
            "date": _iso(d.entry_date),
            "values": d.values,
            "text": decode_json_text(d.text),
            "written_at": _iso(d.created_at),
            "changed_at": _iso(d.updated_at),
            "reviewed_at": _iso(d.reviewed_at),
        }
        for d in DiaryEntry.objects.filter(enrollment=enrollment)
        .select_related("diary_type")
        .order_by("entry_date", "pk")
    ]


def _responses_data(enrollment: Enrollment) -> list[dict]:
    return [
        {
            "questionnaire": _instrument_name(q.code),
            "code": q.code,
            "moment": q.get_moment_display(),
            "completed_at": _iso(q.completed_at),
            "answers": q.answers,
            "total": float(q.total),
            "band": q.band,
            "flags": q.flags,
            "entered_by_therapist": q.entered_by_id is not None,
            "reviewed_at": _iso(q.reviewed_at),
        }
        for q in QuestionnaireResponse.objects.filter(enrollment=enrollment).order_by("completed_at", "pk")
    ]


def _conversation_data(patient: Patient, enrollment: Enrollment) -> tuple[list[dict], list[dict]]:
    conversation = getattr(enrollment, "conversation", None) if _has_conversation(enrollment) else None
    if conversation is None:
        return [], []
    messages = [
        {
            "at": _iso(m.created_at),
            "from": _name(m.author),
            "from_you": m.author_id == patient.user_id,
            "on_behalf_of": _name(m.on_behalf_of) if m.on_behalf_of_id else "",
            "feedback": m.is_feedback,
            "text": m.body,
            "read_at": _iso(m.read_at),
            "about": [link_label(link) for link in m.links.all()],
        }
        for m in conversation.messages.select_related("author", "on_behalf_of")
        .prefetch_related("links__answer__step", "links__diary_entry__diary_type", "links__questionnaire")
        .order_by("created_at", "pk")
    ]
    drafts = [
        {"saved_at": _iso(draft.saved_at), "text": draft.body}
        for draft in conversation.drafts.filter(author_id=patient.user_id)
    ]
    return messages, drafts


def _stepped_care_data(enrollment: Enrollment) -> dict | None:
    decision = (
        SteppedCareDecision.objects.filter(enrollment=enrollment).select_related("decided_by__user").first()
    )
    if decision is None:
        return None
    return {
        "advice": decision.advice,
        "decision": decision.get_decision_display(),
        "reason": decision.reason,
        "decided_by": _name(decision.decided_by.user),
        "decided_at": _iso(decision.decided_at),
    }


def _labels(fields) -> dict[str, str]:
    """``{field name: label}`` from a content definition (assignment or diary fields)."""
    return {
        f["name"]: str(f.get("label") or f["name"])
        for f in fields or []
        if isinstance(f, dict) and "name" in f
    }


def _has_conversation(enrollment: Enrollment) -> bool:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return getattr(enrollment, "conversation", None) is not None
    except ObjectDoesNotExist:
        return False


def _intake_data(patient: Patient, intake: Intake) -> dict:
    return {
        "held_on": _iso(intake.held_on),
        "program": intake.program.slug,
        "therapist": _name(intake.therapist.user),
        "answers": decode_json_text(intake.answers),
        "activity_pattern": intake.get_activity_pattern_display(),
        "decision": intake.get_decision_display(),
        "reason": intake.decision_reason,
    }


def _session_data(patient: Patient, session: TreatmentSession) -> dict:
    return {
        "date": _iso(session.held_on),
        "kind": session.get_kind_display(),
        "minutes": session.minutes,
        "note": session.note,
        "recorded_by": _name(session.recorded_by.user),
    }


def _instrument_name(code: str) -> str:
    instrument = questionnaires.INSTRUMENTS.get(code)
    return str(instrument.short_name) if instrument else code


def own_data_json(data: dict) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode("utf-8")


def lines(value, prefix: str = "", labels: dict | None = None) -> list[tuple[str, str]]:
    """A nested answer or diary value as readable (label, text) lines for the PDF; top-level
    field names are shown by their label from the content when known."""
    if value is None or value == "" or value == {} or value == []:
        return []
    if isinstance(value, dict):
        result = []
        for key, item in value.items():
            label = f"{prefix}{(labels or {}).get(key, key)}"
            if isinstance(item, dict | list):
                result += lines(item, prefix=f"{label} · ")
            else:
                result.append((label, "" if item is None else str(item)))
        return result
    if isinstance(value, list):
        if is_think_feel_do(value):
            return [
                (f"{prefix}{moment_label(number)} · {label}", text)
                for number, moment in enumerate(think_feel_do_moments(value), start=1)
                for label, text in moment
            ]
        if all(not isinstance(v, dict | list) for v in value):
            return [(prefix.rstrip(" ·") or "–", ", ".join(str(v) for v in value))]
        result = []
        for index, item in enumerate(value, start=1):
            result += lines(item, prefix=f"{prefix}{index} · ")
        return result
    return [(prefix.rstrip(" ·") or "–", str(value))]


_TIME_KEYS = {
    "at",
    "date",
    "until",
    "held_on",
    "start_date",
    "generated_at",
    "in_care_since",
    "account_created",
}


def _readable_times(value, key: str = ""):
    """ISO dates and times (as in the JSON) written for people: "26 Nov 2026, 14:05"."""
    if isinstance(value, dict):
        return {k: _readable_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable_times(v, key) for v in value]
    if isinstance(value, str) and (key in _TIME_KEYS or key.endswith("_at")):
        try:
            if len(value) == 10:
                return date_format(date.fromisoformat(value))
            return date_format(datetime.fromisoformat(value), "DATETIME_FORMAT")
        except ValueError:
            return value
    return value


def own_data_for_pdf(data: dict) -> dict:
    """The same data with readable dates, and readable lines added for answers, diary values and
    intakes."""
    data = _readable_times(data)
    for enrollment in data["enrollments"]:
        for answer in enrollment["assignment_answers"]:
            labels = answer["field_labels"]
            answer["lines"] = lines(answer["answer"], labels=labels)
            answer["submitted_lines"] = (
                lines(answer["submitted_answer"], labels=labels)
                if answer["submitted_answer"] != answer["answer"]
                else []
            )
        for entry in enrollment["diary_entries"]:
            labels = entry["field_labels"]
            entry["lines"] = lines(entry["values"], labels=labels) + lines(entry["text"], labels=labels)
        for response in enrollment["questionnaires"]:
            response["lines"] = lines(response["answers"])
            response["band"] = questionnaires.band_label(response["code"], response["band"])
    for intake in data["intakes"]:
        answers = intake["answers"] if isinstance(intake["answers"], dict) else {}
        kind = answers.get("kind") or intake_criteria.intake_kind(intake["program"])
        intake["lines"] = intake_criteria.readable_lines(kind, answers)
    return data


# --- The therapist's treatment summary -------------------------------------------------------------


def treatment_summary(*, patient: Patient) -> dict:
    """What the treatment summary shows: program and version, dates, modules completed, sessions,
    questionnaire scores at start and end (with a graph per questionnaire), the stepped-care
    decision, and the number of written feedback messages. About a dozen queries."""
    enrollment = selectors.enrollment_current(patient=patient)
    context: dict = {"patient": patient, "enrollment": enrollment, "generated_at": timezone.now()}
    intakes = selectors.intakes_for(patient=patient)
    context["intake"] = intakes[0] if intakes else None
    sessions = list(TreatmentSession.objects.filter(patient=patient).order_by("held_on", "pk"))
    if enrollment is not None and enrollment.started_at:
        # Sessions of this treatment: from the intake (or the enrollment) to its end.
        begin = context["intake"].held_on if context["intake"] else enrollment.start_date
        end = timezone.localdate(enrollment.ended_at) if enrollment.ended_at else None
        sessions = [s for s in sessions if s.held_on >= begin and (end is None or s.held_on <= end)]
    context["sessions"] = sessions
    context["session_minutes"] = sum(s.minutes for s in sessions)
    if enrollment is None:
        return context
    progress = progress_for(enrollment, with_diaries=False)
    context["modules"] = progress.modules
    context["modules_completed"] = sum(1 for m in progress.modules if m.is_complete)
    responses = list(
        QuestionnaireResponse.objects.filter(enrollment=enrollment).order_by("completed_at", "pk")
    )
    context["scores"] = _scores([r for r in responses if r.code not in questionnaires.CHECK_IN_CODES])
    context["scores_chart"] = charts_measurement.staff_scores(
        enrollment, responses, selectors.module_starts(enrollment=enrollment), today=timezone.localdate()
    )
    decision = (
        SteppedCareDecision.objects.filter(enrollment=enrollment).select_related("decided_by__user").first()
    )
    context["stepped_care"] = decision
    context["feedback_count"] = (
        enrollment.conversation.messages.filter(is_feedback=True).count()
        if _has_conversation(enrollment)
        else 0
    )
    return context


DATE = "DATE_FORMAT"


def _scores(responses: list[QuestionnaireResponse]) -> list[dict]:
    """Per questionnaire: the first start score, the last end score, every score over time, and
    a line chart of them (the patients' own chart renderer, worded for the file)."""
    by_code: dict[str, list[QuestionnaireResponse]] = {}
    for response in patient_charts.in_treatment_order(responses):
        by_code.setdefault(response.code, []).append(response)
    rows = []
    for code, items in by_code.items():
        instrument = questionnaires.INSTRUMENTS.get(code)
        name = str(instrument.short_name) if instrument else code
        start = next((r for r in items if r.moment == QuestionnaireResponse.Moment.START), None)
        end = next((r for r in reversed(items) if r.moment == QuestionnaireResponse.Moment.END), None)
        chart = None
        if instrument is not None:
            labels = [
                f"{capfirst(r.get_moment_display())} {date_format(timezone.localtime(r.completed_at), DATE)}"
                for r in items
            ]
            direction = _("higher is better") if instrument.higher_is_better else _("lower is better")
            description = _("%(name)s over time: %(scores)s (%(direction)s).") % {
                "name": name,
                "direction": direction,
                "scores": "; ".join(
                    f"{label} {fmt(r.total)}" for label, r in zip(labels, items, strict=True)
                ),
            }
            chart = Chart(
                f"summary-{code}",
                name,
                description,
                labels,
                [Series(_("Score"), [float(r.total) for r in items])],
                float(instrument.min_total),
                float(instrument.max_total),
            )
            chart.svg = render_svg(chart)
        rows.append(
            {
                "code": code,
                "name": name,
                "start": start,
                "end": end,
                "all": items,
                "chart": chart,
                "range": (f"{fmt(instrument.min_total)}–{fmt(instrument.max_total)}" if instrument else ""),
            }
        )
    return rows
