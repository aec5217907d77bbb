"""The rules of one patient's way through their program: what is open, what is done, what is next.

Everything here is computed from data loaded up front (``progress_for`` runs a fixed number of
queries, whatever the size of the program or the history), so a page can ask as many questions
as it likes without touching the database again.

The rules, in order of precedence:

* **Steps.** A step is shown to the patient unless it is switched off: a therapist's
  ``StepOverride`` (``module_slug/step_slug``, included true or false) decides first; otherwise an
  optional step is on unless the clinic switched it off (``ClinicProgramSetting``); required
  steps are always on. Steps that are off are invisible: not counted, not linked, 404.
* **Modules.** A therapist's ``ModuleState`` decides first: *held* closes a module whatever else
  is true, *opened* opens it. Otherwise the enrollment's unlock mode decides:
  ``sequential``: module 1 is open, and each next module once the one before is complete;
  ``therapist``: module 1 is open, the others only when the therapist opens them;
  ``date``: module *n* opens on ``start_date + (n - 1) * module_interval_days``.
* **Done.** A step is done when its ``StepProgress`` has ``completed_at``: pages, audio and
  video when the patient moves on from them, assignments when submitted, diaries when an entry
  was made from the step, questionnaires when answered (or when the therapist will ask them).
  A module is complete when all its shown steps are done (a module without shown steps counts
  as complete once it is open, so it never blocks the next one).
* **Diaries.** The diaries the patient keeps are those of their *current module* (the last open
  module they have been in), at most three, and only once started: the patient has been on the
  step that introduces the diary, or has written in it, or no shown step introduces it. A daily
  diary is due when there is no entry for today; a weekly one when there is none in the last
  seven days.
* **The one next thing** (``next_action``): the weekly check-in when it is due (under a minute,
  and it carries the safety question), then new feedback (a therapist who answers is what keeps
  patients going), then a start questionnaire that has no step of its own or one the schedule asks
  after a finished module, then a diary due today (it takes a minute), then continuing the program
  where the patient left off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    Max,
    TextField,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from patients import measurement
from patients.models import (
    DiaryEntry,
    Enrollment,
    ModuleState,
    QuestionnaireResponse,
    StepOverride,
    StepProgress,
)
from programs import content_cache, questionnaires
from programs.models import ClinicProgramSetting, DiaryType, LicensedInstrument, Module, Step
from programs.selectors import step_route

OPEN = "open"
LOCKED = "locked"
HELD = "held"
MAX_DIARIES = 3


@dataclass(frozen=True)
class LicensedThreshold:
    """A severe threshold from one of the clinic's licensed questionnaire files."""

    code: str
    language: str
    severe_threshold: int


@dataclass
class StepState:
    step: Step
    module: Module
    seen: bool = False
    done: bool = False

    @property
    def key(self) -> str:
        return f"{self.module.slug}/{self.step.slug}"


@dataclass
class ModuleProgress:
    module: Module
    state: str
    steps: list[StepState]
    opens_on: date | None = None

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def done_count(self) -> int:
        return sum(1 for s in self.steps if s.done)

    @property
    def is_complete(self) -> bool:
        return self.done_count == self.total if self.steps else self.is_open

    @property
    def is_started(self) -> bool:
        return any(s.seen for s in self.steps)

    @property
    def percent(self) -> int:
        return round(100 * self.done_count / self.total) if self.total else (100 if self.is_open else 0)


@dataclass
class DiaryDue:
    diary_type: DiaryType
    last_entry: date | None
    due: bool


@dataclass
class NextAction:
    """What the big button on the home page does. ``kind`` is one of: feedback, questionnaire,
    diary, continue, start, wait (everything open is done, the next module is not open yet),
    finished (the whole program is done), closed (the enrollment has ended)."""

    kind: str
    step: StepState | None = None
    diary_type: DiaryType | None = None
    code: str = ""
    moment: str = ""
    count: int = 0


@dataclass
class Progress:
    enrollment: Enrollment
    today: date
    modules: list[ModuleProgress]
    diary_last: dict[int, date] = field(default_factory=dict)
    answered_codes: set[tuple[str, str]] = field(default_factory=set)
    licensed_codes: set[str] = field(default_factory=set)
    check_in_days: set[date] = field(default_factory=set)
    # {step id: when the patient first opened it}, of every step opened (shown now or not).
    first_seen: dict[int, datetime] = field(default_factory=dict)
    # The clinic's licensed thresholds (``LicensedThreshold``), read with the progress: what
    # ``programs.thresholds.threshold_from_licensed`` takes.
    licensed_thresholds: list = field(default_factory=list)

    # Lookups ---------------------------------------------------------------------------------

    def module_starts(self) -> dict[int, date]:
        """{module number: the day the patient first opened a step of it}: what
        ``selectors.module_starts`` reads from the database, from the rows progress has already
        read (no query)."""
        numbers = {s.pk: m.module.number for m in self.modules for s in m.module.steps.all()}
        starts: dict[int, datetime] = {}
        for step_id, moment in self.first_seen.items():
            number = numbers.get(step_id)
            if number is not None and (number not in starts or moment < starts[number]):
                starts[number] = moment
        return {number: timezone.localtime(moment).date() for number, moment in starts.items()}

    def step_titles(self) -> dict[str, str]:
        """``{"module/step": title}`` of every step of the version, shown or not."""
        return {f"{m.module.slug}/{s.slug}": s.title for m in self.modules for s in m.module.steps.all()}

    def module(self, slug: str) -> ModuleProgress | None:
        return next((m for m in self.modules if m.module.slug == slug), None)

    def find(self, module_slug: str, step_slug: str) -> tuple[ModuleProgress, StepState] | None:
        """The shown step at ``module_slug/step_slug`` and its module; None for steps that do not
        exist or are switched off for this patient."""
        module = self.module(module_slug)
        if module is None:
            return None
        state = next((s for s in module.steps if s.step.slug == step_slug), None)
        return (module, state) if state is not None else None

    def open_steps(self) -> list[StepState]:
        return [s for m in self.modules if m.is_open for s in m.steps]

    def neighbours(self, state: StepState) -> tuple[StepState | None, StepState | None]:
        """The shown, open steps before and after ``state`` (across module boundaries)."""
        steps = self.open_steps()
        ids = [s.step.pk for s in steps]
        if state.step.pk not in ids:
            return None, None
        i = ids.index(state.step.pk)
        return (steps[i - 1] if i > 0 else None), (steps[i + 1] if i + 1 < len(steps) else None)

    # Where the patient is ---------------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        return bool(self.modules) and all(m.is_open and m.is_complete for m in self.modules)

    def current_module(self) -> ModuleProgress | None:
        """The last open module the patient has been in; else the first open module."""
        open_modules = [m for m in self.modules if m.is_open]
        started = [m for m in open_modules if m.is_started]
        if started:
            return started[-1]
        return open_modules[0] if open_modules else None

    def resume_step(self) -> StepState | None:
        """Where to continue: the step the patient was last on if it is not done, else the
        first step after it that is not done, else the first open step not done at all."""
        steps = self.open_steps()
        ids = [s.step.pk for s in steps]
        current = self.enrollment.current_step_id
        if current in ids:
            i = ids.index(current)
            for state in steps[i:]:
                if not state.done:
                    return state
        return next((s for s in steps if not s.done), None)

    # Diaries ------------------------------------------------------------------------------------

    def active_diaries(self) -> list[DiaryType]:
        module = self.current_module()
        if module is None:
            return []
        introduced: dict[int, list[StepState]] = {}
        for m in self.modules:
            for s in m.steps:
                if s.step.kind == Step.Kind.DIARY and s.step.diary_type_id:
                    introduced.setdefault(s.step.diary_type_id, []).append(s)
        active = []
        for diary_type in module.module.diary_types.all():
            intro = introduced.get(diary_type.pk, [])
            if diary_type.pk in self.diary_last or not intro or any(s.seen for s in intro):
                active.append(diary_type)
        return active[:MAX_DIARIES]

    def diaries_today(self) -> list[DiaryDue]:
        result = []
        for diary_type in self.active_diaries():
            last = self.diary_last.get(diary_type.pk)
            if diary_type.frequency == DiaryType.Frequency.WEEKLY:
                due = last is None or last <= self.today - timedelta(days=7)
            else:
                due = last is None or last < self.today
            result.append(DiaryDue(diary_type, last, due))
        return result

    # Questionnaires without a step of their own --------------------------------------------------

    def questionnaires_without_step(self, moment: str) -> list[str]:
        """Codes of the version's start (or end) questionnaires that no shown step of the first
        (or last) module asks, and that the patient has not answered at that moment."""
        version = self.enrollment.version
        codes = (
            version.questionnaires_start
            if moment == QuestionnaireResponse.Moment.START
            else version.questionnaires_end
        )
        if not self.modules:
            return []
        module = self.modules[0] if moment == QuestionnaireResponse.Moment.START else self.modules[-1]
        asked = {s.step.questionnaire for s in module.steps if s.step.kind == Step.Kind.QUESTIONNAIRE}
        return [
            c
            for c in codes
            if c not in asked and (c, moment) not in self.answered_codes and self._patient_can_answer(c)
        ]

    def _patient_can_answer(self, code: str) -> bool:
        """A licensed questionnaire whose texts the clinic has not loaded is asked by the therapist."""
        instrument = questionnaires.INSTRUMENTS.get(code)
        if instrument is None:
            return False
        return instrument.texts_shipped or code in self.licensed_codes

    def check_in_due(self) -> date | None:
        """The feedback day whose weekly check-in is asked now (patients.measurement), or None."""
        return measurement.check_in_asked(self.enrollment, self.today, self.check_in_days)

    def questionnaires_after_modules(self) -> list[str]:
        """Codes the version asks after a module (``measurements.after_module``) whose module is
        complete and that the patient has not answered during the program."""
        codes = []
        for number, wanted in sorted(measurement.after_module(self.enrollment.version).items()):
            module = next((m for m in self.modules if m.module.number == number), None)
            if module is None or not module.is_open or not module.is_complete:
                continue
            for code in wanted:
                moment = QuestionnaireResponse.Moment.MODULE
                if (code, moment) not in self.answered_codes and self._patient_can_answer(code):
                    codes.append(code)
        return list(dict.fromkeys(codes))

    def questionnaires_due(self) -> list[tuple[str, str]]:
        """(moment, code) pairs to fill in now: the start ones at once, the ones after a module
        once that module is complete, the end ones when the last module is open and everything
        else is done."""
        due = [
            (QuestionnaireResponse.Moment.START, c)
            for c in self.questionnaires_without_step(QuestionnaireResponse.Moment.START)
        ]
        if self.enrollment.status == Enrollment.Status.ACTIVE:
            due += [(QuestionnaireResponse.Moment.MODULE, c) for c in self.questionnaires_after_modules()]
        if self.modules and self.modules[-1].is_open and not self.resume_step():
            due += [
                (QuestionnaireResponse.Moment.END, c)
                for c in self.questionnaires_without_step(QuestionnaireResponse.Moment.END)
            ]
        return due


def questionnaire_moment(progress: Progress, step: Step) -> str:
    """A questionnaire step in the first module that asks a start questionnaire measures the
    start; one in the last module that asks an end questionnaire, the end; any other, progress
    during the program."""
    version = progress.enrollment.version
    if (
        progress.modules
        and step.module_id == progress.modules[0].module.pk
        and step.questionnaire in version.questionnaires_start
    ):
        return QuestionnaireResponse.Moment.START
    if (
        progress.modules
        and step.module_id == progress.modules[-1].module.pk
        and step.questionnaire in version.questionnaires_end
    ):
        return QuestionnaireResponse.Moment.END
    return QuestionnaireResponse.Moment.MODULE


# --- The rules as plain functions (tested on their own) ----------------------------------------


def step_is_shown(
    *, module_slug: str, step: Step, overrides: dict[str, bool], optional_off: set[str], route: str = ""
) -> bool:
    """Whether the patient sees ``step``: the therapist's override for this patient first, then
    the confirmed activity pattern (a step for another pattern is hidden), then the clinic's
    switched-off optional steps."""
    key = f"{module_slug}/{step.slug}"
    if key in overrides:
        return overrides[key]
    written_for = step_route(step)
    if route and written_for and written_for != route:
        return False
    if step.optional:
        return key not in optional_off
    return True


def module_base_open(
    *, enrollment: Enrollment, number: int, previous_complete: bool, today: date
) -> tuple[bool, date | None]:
    """Whether the unlock mode alone opens module ``number``, and on which date (date mode)."""
    if enrollment.unlock_mode == Enrollment.Unlock.DATE:
        opens_on = enrollment.start_date + timedelta(days=(number - 1) * enrollment.module_interval_days)
        return today >= opens_on, opens_on
    if number == 1:
        return True, None
    if enrollment.unlock_mode == Enrollment.Unlock.THERAPIST:
        return False, None
    return previous_complete, None


def module_state(*, base_open: bool, override: str | None) -> str:
    if override == ModuleState.State.HELD:
        return HELD
    if override == ModuleState.State.OPENED or base_open:
        return OPEN
    return LOCKED


# --- Loading ------------------------------------------------------------------------------------


def version_modules(version, *, with_diary_types: bool = True) -> list[Module]:
    """The modules of ``version`` in order, each with its steps (``module.steps.all()``) and
    diary types (``module.diary_types.all()``) loaded. The modules and steps come from the
    process's copy of the version's content (``programs.content_cache``: one query the first
    time, none after); the diary types cost one query, none without ``with_diary_types``."""
    ordered = []
    for module, steps in content_cache.version_outline(version):
        module._prefetched_objects_cache = {"steps": _cached(module.steps, steps)}
        ordered.append(module)
    if with_diary_types:
        prefetch_related_objects(ordered, "diary_types")
    return ordered


def _cached(manager, rows):
    """``manager.all()`` with ``rows`` as its results (what ``prefetch_related`` leaves): reading
    it costs no query, and ``.filter()`` and the like still ask the database as usual."""
    queryset = manager.all()
    queryset._result_cache = list(rows)
    queryset._prefetch_done = True
    return queryset


def _enrollment_choices(
    enrollment: Enrollment, program_id: int
) -> tuple[dict, dict, set, set, set, dict[int, datetime]]:
    """The therapist's step overrides and module states, the clinic's optional steps that are
    off, the steps seen and done, and when each step was first seen, in one query (a UNION ALL
    of the four tables)."""
    text, flag, number, moment = TextField(), BooleanField(), BigIntegerField(), DateTimeField()

    def null(output_field):
        return Cast(Value(None), output_field)

    def kind(letter):
        return Value(letter, output_field=CharField())

    overrides = StepOverride.objects.filter(enrollment=enrollment).values_list(
        kind("o"), Cast("step_key", text), "included", null(number), null(moment), null(moment)
    )
    states = ModuleState.objects.filter(enrollment=enrollment).values_list(
        kind("m"), Cast("state", text), null(flag), Cast("module_number", number), null(moment), null(moment)
    )
    progress = StepProgress.objects.filter(enrollment=enrollment).values_list(
        kind("p"), null(text), null(flag), Cast("step_id", number), "completed_at", "first_seen_at"
    )
    setting = ClinicProgramSetting.objects.filter(
        clinic_id=enrollment.clinic_id, program_id=program_id
    ).values_list(
        kind("s"), Cast("optional_steps_off", text), null(flag), null(number), null(moment), null(moment)
    )
    # The clinic's own thresholds from its licensed questionnaire files (programs.thresholds):
    # "code:language" and the threshold, for the stepped-care advice shown beside the progress.
    licensed = (
        LicensedInstrument.objects.filter(clinic_id=enrollment.clinic_id, severe_threshold__isnull=False)
        .order_by()
        .values_list(
            kind("l"),
            Concat(Cast("code", text), Value(":"), Cast("language", text), output_field=text),
            null(flag),
            Cast("severe_threshold", number),
            null(moment),
            null(moment),
        )
    )
    overrides_by_key, states_by_number = {}, {}
    optional_off, seen, done, first_seen, thresholds = set(), set(), set(), {}, []
    for letter, text_value, included, number_value, completed_at, first_seen_at in overrides.union(
        states, progress, setting, licensed, all=True
    ):
        if letter == "o":
            overrides_by_key[text_value] = included
        elif letter == "m":
            states_by_number[number_value] = text_value
        elif letter == "p":
            seen.add(number_value)
            first_seen[number_value] = first_seen_at
            if completed_at is not None:
                done.add(number_value)
        elif letter == "l":
            code, _colon, language = text_value.partition(":")
            thresholds.append(LicensedThreshold(code, language, number_value))
        else:
            optional_off = set(json.loads(text_value or "[]"))
    return overrides_by_key, states_by_number, optional_off, seen, done, first_seen, thresholds


def progress_for(
    enrollment: Enrollment,
    *,
    today: date | None = None,
    with_diaries: bool = True,
    with_diary_types: bool = True,
) -> Progress:
    """The progress of ``enrollment``. Three queries (six with ``with_diaries``, two without
    ``with_diary_types``: then ``active_diaries`` asks the database per module), whatever the size
    of the program or the history; ``enrollment.version`` should be loaded with ``select_related``."""
    today = today or timezone.localdate()
    version = enrollment.version
    modules = version_modules(version, with_diary_types=with_diary_types)
    overrides, states, optional_off, seen, done, first_seen, thresholds = _enrollment_choices(
        enrollment, version.program_id
    )

    result: list[ModuleProgress] = []
    previous_complete = True
    for module in modules:
        module.version = version
        shown = []
        for step in module.steps.all():
            step.version = version
            step.module = module
            if step_is_shown(
                module_slug=module.slug,
                step=step,
                overrides=overrides,
                optional_off=optional_off,
                route=enrollment.activity_route,
            ):
                shown.append(StepState(step, module, seen=step.pk in seen, done=step.pk in done))
        base_open, opens_on = module_base_open(
            enrollment=enrollment, number=module.number, previous_complete=previous_complete, today=today
        )
        state = module_state(base_open=base_open, override=states.get(module.number))
        progress = ModuleProgress(module, state, shown, opens_on)
        previous_complete = progress.is_complete
        result.append(progress)

    progress = Progress(enrollment, today, result)
    progress.first_seen = first_seen
    progress.licensed_thresholds = thresholds
    if with_diaries:
        progress.diary_last = dict(
            DiaryEntry.objects.filter(enrollment=enrollment)
            .values("diary_type_id")
            .annotate(last=Max("entry_date"))
            .values_list("diary_type_id", "last")
        )
        answered = set(
            QuestionnaireResponse.objects.filter(enrollment=enrollment)
            .values_list("code", "moment", "due_on")
            .distinct()
        )
        progress.answered_codes = {(code, moment) for code, moment, _day in answered}
        check_in = measurement.check_in_code(version)
        progress.check_in_days = {day for code, _m, day in answered if code == check_in and day}
        progress.licensed_codes = set(
            LicensedInstrument.objects.filter(clinic_id=enrollment.clinic_id).values_list("code", flat=True)
        )
    return progress


def next_action(progress: Progress, *, unread_feedback: int = 0) -> NextAction:
    """The one thing to do next (see the module docstring for the order)."""
    if not progress.enrollment.is_open:
        return NextAction("closed")
    check_in = progress.check_in_due()
    if check_in is not None:
        return NextAction("checkin", code=measurement.check_in_code(progress.enrollment.version))
    if unread_feedback:
        return NextAction("feedback", count=unread_feedback)
    for moment, code in progress.questionnaires_due():
        if moment in (QuestionnaireResponse.Moment.START, QuestionnaireResponse.Moment.MODULE):
            return NextAction("questionnaire", code=code, moment=moment)
    for diary in progress.diaries_today():
        if diary.due:
            return NextAction("diary", diary_type=diary.diary_type)
    step = progress.resume_step()
    if step is not None:
        return NextAction("start" if not progress.enrollment.current_step_id else "continue", step=step)
    for moment, code in progress.questionnaires_due():
        return NextAction("questionnaire", code=code, moment=moment)
    if progress.is_finished:
        return NextAction("finished")
    return NextAction("wait")
