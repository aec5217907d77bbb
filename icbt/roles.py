"""Who is this user? One place that answers it, used by access helpers, navigation and audit."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Roles:
    staff: object | None  # icbt.StaffMember
    patient: object | None  # patients.Patient

    @property
    def is_clinic_staff(self) -> bool:
        return self.staff is not None

    @property
    def clinic_id(self) -> int | None:
        if self.staff is not None:
            return self.staff.clinic_id
        if self.patient is not None:
            return self.patient.clinic_id
        return None

    @property
    def label(self) -> str:
        if self.staff is not None:
            return "+".join(self.staff.roles)
        if self.patient is not None:
            return "patient"
        return ""


def roles_of(user) -> Roles:
    """The clinic roles of ``user``, cached on the user object for the request."""
    cached = getattr(user, "_icbt_roles", None)
    if cached is not None:
        return cached
    staff = patient = None
    if user is not None and user.is_authenticated:
        staff = getattr(user, "staff", None) if _has_related(user, "staff") else None
        patient = getattr(user, "patient", None) if _has_related(user, "patient") else None
    roles = Roles(staff=staff, patient=patient)
    if user is not None:
        user._icbt_roles = roles
    return roles


def _has_related(user, name: str) -> bool:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        getattr(user, name)
    except ObjectDoesNotExist:
        return False
    return True


def needs_mfa(user) -> bool:
    """Clinic staff and platform operators must have a second factor."""
    return bool(
        user.is_authenticated and (user.is_staff or user.is_superuser or roles_of(user).is_clinic_staff)
    )
