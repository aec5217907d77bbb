"""Access helpers of the messaging app, one per object type (see icbt/access.py for the rules).

Conversations, notes and shares belong to a patient: their views go through
:func:`patients.access.patient_for_staff`, which checks and audits. Templates hold no patient
data; they have their own helper here.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from icbt.roles import roles_of
from messaging.models import FeedbackTemplate
from patients.models import CareShare, Patient


def template_may_edit(staff, template: FeedbackTemplate) -> bool:
    """Clinic-wide templates are kept by the clinic admin; personal ones by their owner."""
    if staff is None or staff.clinic_id != template.clinic_id:
        return False
    if template.owner_id is None:
        return staff.is_clinic_admin
    return template.owner_id == staff.pk


def template_may_use(staff, template: FeedbackTemplate) -> bool:
    if staff is None or staff.clinic_id != template.clinic_id:
        return False
    return template.owner_id is None or template.owner_id == staff.pk


def template_get_for_user(user, pk, *, write: bool = False) -> FeedbackTemplate:
    """The template ``pk`` if ``user`` may use it (edit it, with ``write=True``).

    404 for anyone outside the template's clinic; 403 for staff of the clinic who may not."""
    staff = roles_of(user).staff
    template = FeedbackTemplate.objects.filter(pk=pk).select_related("owner__user").first()
    if staff is None or template is None or template.clinic_id != staff.clinic_id or template.hidden:
        raise Http404
    allowed = template_may_edit(staff, template) if write else template_may_use(staff, template)
    if not allowed:
        raise PermissionDenied
    return template


def share_get_for_patient(patient: Patient, pk) -> CareShare:
    """A share of ``patient`` (already access-checked); 404 for a share of anyone else."""
    share = CareShare.objects.filter(pk=pk, patient=patient).select_related("colleague__user").first()
    if share is None:
        raise Http404
    return share
