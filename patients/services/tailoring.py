"""Tailoring one patient's program: a step switched on or off, a module's state."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from icbt.audit import Action
from icbt.models import StaffMember
from patients.models import Enrollment, ModuleState, StepOverride, TimelineEvent
from patients.services.enrollment import _require_open_for_staff
from patients.services.recording import _enrollment_lock, record_change
from programs.models import Step


@transaction.atomic
def step_override_set(
    *, enrollment: Enrollment, staff: StaffMember, step_key: str, included: bool
) -> StepOverride:
    """Skip a step for this patient (``included=False``) or add one (an optional step the clinic
    switched off, or a step skipped earlier). ``step_key`` is ``module_slug/step_slug`` and must
    be a step of the patient's version."""
    _require_open_for_staff(enrollment)
    module_slug, _sep, step_slug = step_key.partition("/")
    steps = Step.objects.filter(version_id=enrollment.version_id, module__slug=module_slug, slug=step_slug)
    if not steps.exists():
        raise ValidationError(_("This step is not part of the patient's program."))
    _enrollment_lock(enrollment)
    override, _created = StepOverride.objects.update_or_create(
        enrollment=enrollment,
        step_key=step_key,
        defaults={"included": included, "changed_by": staff.user, "changed_at": timezone.now()},
    )
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="step_override",
        object_id=override.pk,
        enrollment=enrollment,
        kind=TimelineEvent.Kind.STEP_ADDED if included else TimelineEvent.Kind.STEP_SKIPPED,
        detail={"step": step_key},
    )
    return override


MODULE_DEFAULT = "default"


@transaction.atomic
def module_state_set(
    *, enrollment: Enrollment, staff: StaffMember, module_number: int, state: str
) -> ModuleState | None:
    """Open a module early (``opened``), hold it back (``held``), or give it back to the
    enrollment's unlock mode (``default``; the row is removed)."""
    _require_open_for_staff(enrollment)
    if state not in (ModuleState.State.OPENED, ModuleState.State.HELD, MODULE_DEFAULT):
        raise ValidationError(_("Choose open, hold or normal schedule."))
    if not enrollment.version.modules.filter(number=module_number).exists():
        raise ValidationError(_("This module is not part of the patient's program."))
    _enrollment_lock(enrollment)
    result = None
    if state == MODULE_DEFAULT:
        rows = ModuleState.objects.filter(enrollment=enrollment, module_number=module_number)
        deleted, _per_model = rows.delete()
        if not deleted:
            return None
        kind = TimelineEvent.Kind.MODULE_DEFAULT
    else:
        result, _created = ModuleState.objects.update_or_create(
            enrollment=enrollment,
            module_number=module_number,
            defaults={"state": state, "changed_by": staff.user, "changed_at": timezone.now()},
        )
        kind = (
            TimelineEvent.Kind.MODULE_OPENED
            if state == ModuleState.State.OPENED
            else TimelineEvent.Kind.MODULE_HELD
        )
    record_change(
        staff=staff,
        action=Action.CHANGE,
        object_type="module_state",
        object_id=f"{enrollment.pk}:{module_number}",
        enrollment=enrollment,
        kind=kind,
        detail={"module": module_number},
    )
    return result
