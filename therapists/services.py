from django.db import transaction

from icbt.audit import Action, audit_record
from icbt.models import Clinic, Invitation, StaffMember, Team, User
from icbt.services import invitation_create


@transaction.atomic
def staff_invite(
    *,
    clinic: Clinic,
    email: str,
    first_name: str,
    last_name: str,
    is_therapist: bool,
    is_manager: bool,
    is_clinic_admin: bool,
    teams: list[Team],
    training_date=None,
    invited_by: User,
) -> StaffMember:
    """Create an inactive account with the given roles and send the invitation link."""
    user = User(
        email=User.objects.normalize_email(email).lower(),
        first_name=first_name,
        last_name=last_name,
        is_active=False,
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    member = StaffMember(
        user=user,
        clinic=clinic,
        is_therapist=is_therapist,
        is_manager=is_manager,
        is_clinic_admin=is_clinic_admin,
        training_date=training_date,
    )
    member.full_clean()
    member.save()
    member.teams.set([t for t in teams if t.clinic_id == clinic.pk])
    invitation_create(user=user, kind=Invitation.Kind.STAFF, created_by=invited_by)
    return member


@transaction.atomic
def clinic_identity_update(
    *,
    clinic: Clinic,
    display_name: str,
    accent: str,
    logo: tuple[bytes, str] | None,
    remove_logo: bool,
    changed_by: User,
) -> Clinic:
    """Save the clinic's name, colour and logo (already made safe by icbt.logos) and audit it."""
    clinic.display_name = display_name
    clinic.accent = accent
    if logo is not None:
        clinic.logo, clinic.logo_type = logo
    elif remove_logo:
        clinic.logo, clinic.logo_type = b"", ""
    clinic.full_clean()
    clinic.save(update_fields=["display_name", "accent", "logo", "logo_type"])
    audit_record(
        user=changed_by, action=Action.CHANGE, clinic_id=clinic.pk, object_type="clinic", object_id=clinic.pk
    )
    return clinic
