from django.db import transaction

from icbt.audit import Action, audit_record
from icbt.models import Invitation, User
from icbt.services import invitation_create
from patients.models import Patient
from therapists.models import StaffMember


@transaction.atomic
def patient_invite(
    *, therapist: StaffMember, email: str, first_name: str, last_name: str, language: str = "en", request=None,
) -> Patient:
    """Create a patient account in the therapist's clinic, assigned to them, and send the
    invitation link. Audited as the creation of a patient record."""
    user = User(email=User.objects.normalize_email(email).lower(), first_name=first_name, last_name=last_name,
                language=language, is_active=False)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    patient = Patient(user=user, clinic_id=therapist.clinic_id, therapist=therapist)
    patient.full_clean()
    patient.save()
    invitation_create(user=user, kind=Invitation.Kind.PATIENT, created_by=therapist.user)
    audit_record(
        user=therapist.user, request=request, action=Action.CREATE, patient_id=patient.pk,
        clinic_id=patient.clinic_id, object_type="patient", object_id=patient.pk,
    )
    return patient
