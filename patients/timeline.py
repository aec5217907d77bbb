"""One readable line per timeline event, built from its structured ``detail`` (never free text).

Timeline events keep ids, codes and numbers only, so the same events can be shown in any
language, exported, and listed without decrypting anything. The words are made here, at display
time, in the viewer's language.
"""

from datetime import date

from django.utils.dates import WEEKDAYS
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from patients.models import (
    Enrollment,
    Intake,
    QuestionnaireResponse,
    SteppedCareDecision,
    TimelineEvent,
    TreatmentSession,
)
from programs import questionnaires


def _label(choices, value) -> str:
    return str(dict(choices).get(value, value or ""))


def staff_ids(events) -> set:
    """The staff members the lines of ``events`` name (referrals and changes of therapist)."""
    return {
        event.detail.get(key)
        for event in events
        if event.kind
        in (TimelineEvent.Kind.REFERRAL, TimelineEvent.Kind.THERAPIST, TimelineEvent.Kind.URGENT_CONTACT)
        for key in ("from", "to")
    }


def _therapist(names: dict, pk) -> str:
    return names.get(pk) or _("a colleague")


def rhythm(cadence: str, weekday) -> str:
    """'weekly, on Monday' / 'every two weeks, on Friday'."""
    return _("%(cadence)s, on %(day)s") % {
        "cadence": _label(Enrollment.Cadence.choices, cadence),
        "day": WEEKDAYS.get(weekday, ""),
    }


def _urgent_contact(d: dict, names: dict) -> str:
    """The record that went with reviewing a self-harm answer: how and when the patient was
    contacted, or to whom it was handed over."""
    instrument = questionnaires.INSTRUMENTS.get(d.get("code"))
    values = {
        "name": instrument.short_name if instrument else d.get("code", ""),
        "day": _day(d.get("on")),
    }
    if d.get("method") == TimelineEvent.ContactMethod.HANDOVER:
        values["to"] = _therapist(names, d.get("to"))
        return _("%(name)s: self-harm answer reviewed, handed over to %(to)s on %(day)s") % values
    values["method"] = _label(TimelineEvent.ContactMethod.choices, d.get("method"))
    return _("%(name)s: self-harm answer reviewed, the patient was contacted %(method)s on %(day)s") % values


def _day(value) -> str:
    try:
        return date_format(date.fromisoformat(value))
    except (TypeError, ValueError):
        return str(value or "")


def describe(
    event: TimelineEvent,
    *,
    names: dict | None = None,
    programs: dict | None = None,
    steps: dict | None = None,
) -> str:
    """The line for ``event``. ``names`` maps staff ids to names, ``programs`` program slugs to
    titles and ``steps`` ``module/step`` keys to step titles (each optional)."""
    names, programs, steps = names or {}, programs or {}, steps or {}
    d = event.detail or {}
    kind = event.kind
    Kind = TimelineEvent.Kind
    if kind == Kind.ENROLLED:
        text = _("Enrolled in %(program)s (version %(version)s), feedback %(rhythm)s") % {
            "program": programs.get(d.get("program"), d.get("program", "")),
            "version": d.get("version", ""),
            "rhythm": rhythm(d.get("cadence"), d.get("weekday")),
        }
        if d.get("invited"):
            text += ". " + _("Invitation sent.")
        if d.get("pattern"):
            text += ". " + _("Activity pattern from the intake: %(pattern)s") % {
                "pattern": _label(Intake.ActivityPattern.choices, d["pattern"])
            }
        return text
    if kind == Kind.STATUS:
        return _("Status changed from %(from)s to %(to)s") % {
            "from": _label(Enrollment.Status.choices, d.get("from")),
            "to": _label(Enrollment.Status.choices, d.get("to")),
        }
    if kind in (Kind.MODULE_OPENED, Kind.MODULE_HELD, Kind.MODULE_DEFAULT, Kind.MODULE_COMPLETED):
        messages = {
            Kind.MODULE_OPENED: _("Module %(n)s opened by the therapist"),
            Kind.MODULE_HELD: _("Module %(n)s held back by the therapist"),
            Kind.MODULE_DEFAULT: _("Module %(n)s back on its normal schedule"),
            Kind.MODULE_COMPLETED: _("Module %(n)s completed"),
        }
        return messages[kind] % {"n": d.get("module", "?")}
    if kind in (Kind.STEP_SKIPPED, Kind.STEP_ADDED):
        step = steps.get(d.get("step"), d.get("step", ""))
        if kind == Kind.STEP_SKIPPED:
            return _("Step skipped for this patient: %(step)s") % {"step": step}
        return _("Step added for this patient: %(step)s") % {"step": step}
    if kind == Kind.CADENCE:
        before, after = d.get("before", {}), d.get("after", {})
        return _("Feedback rhythm changed to %(after)s (was %(before)s)") % {
            "after": rhythm(after.get("cadence"), after.get("weekday")),
            "before": rhythm(before.get("cadence"), before.get("weekday")),
        }
    if kind == Kind.SESSION:
        return _("%(kind)s, %(minutes)s minutes") % {
            "kind": capfirst(_label(TreatmentSession.Kind.choices, d.get("kind"))),
            "minutes": d.get("minutes", ""),
        }
    if kind == Kind.QUESTIONNAIRE:
        instrument = questionnaires.INSTRUMENTS.get(d.get("code"))
        name = instrument.short_name if instrument else d.get("code", "")
        total = d.get("total")
        total = int(total) if isinstance(total, float) and total.is_integer() else total
        moment = _label(QuestionnaireResponse.Moment.choices, d.get("moment"))
        text = _("%(name)s (%(moment)s): %(total)s") % {"name": name, "moment": moment, "total": total}
        if d.get("entered"):
            text += " " + _("(entered by the therapist)")
        if "self_harm" in (d.get("flags") or ()):
            text += ". " + _("Urgent: self-harm item answered")
        return text
    if kind == Kind.URGENT_CONTACT:
        return _urgent_contact(d, names)
    if kind == Kind.STEPPED_CARE:
        return _("Stepped-care decision: %(decision)s (advice: %(advice)s)") % {
            "decision": _label(SteppedCareDecision.Decision.choices, d.get("decision")),
            "advice": {
                "step_up": _("step up"),
                "finish": _("finish"),
                "incomplete": _("incomplete scores"),
            }.get(d.get("advice"), d.get("advice", "")),
        }
    if kind == Kind.INTAKE:
        return _("Intake for %(program)s: %(decision)s") % {
            "program": programs.get(d.get("program"), d.get("program", "")),
            "decision": _label(Intake.Decision.choices, d.get("decision")),
        }
    if kind == Kind.REFERRAL:
        values = {"from": _therapist(names, d.get("from")), "to": _therapist(names, d.get("to"))}
        if d.get("event") == "accepted":
            return _("Referral accepted by %(to)s") % values
        if d.get("event") == "declined":
            return _("Referral declined by %(to)s") % values
        return _("Referred by %(from)s to %(to)s") % values
    if kind == Kind.ROUTE:
        if not d.get("after"):
            return _("Activity pattern no longer confirmed: the patient sees the steps for every pattern")
        return _("Activity pattern confirmed: %(pattern)s") % {
            "pattern": _label(Intake.ActivityPattern.choices, d.get("after"))
        }
    if kind == Kind.THERAPIST:
        return _("Therapist changed from %(from)s to %(to)s") % {
            "from": _therapist(names, d.get("from")),
            "to": _therapist(names, d.get("to")),
        }
    return _label(Kind.choices, kind)
