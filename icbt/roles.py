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
        staff = _related_with_clinic(user, "staff")
        patient = _related_with_clinic(user, "patient")
    roles = Roles(staff=staff, patient=patient)
    if user is not None:
        user._icbt_roles = roles
    return roles


def _related_with_clinic(user, name: str):
    """The user's staff or patient row with its clinic (one query, as the bare relation would take;
    the header shows the clinic on every page). The clinic's logo is left for when it is shown."""
    relation = user._meta.get_field(name)
    if relation.is_cached(user):
        return relation.get_cached_value(user)
    found = (
        relation.related_model.objects.select_related("clinic")
        .defer("clinic__logo")
        .filter(user=user)
        .first()
    )
    relation.set_cached_value(user, found)
    return found


def needs_mfa(user) -> bool:
    """Clinic staff and platform operators must have a second factor."""
    return bool(
        user.is_authenticated and (user.is_staff or user.is_superuser or roles_of(user).is_clinic_staff)
    )
