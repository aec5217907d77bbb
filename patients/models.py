import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from therapists.models import Clinic, StaffMember

# No 0/O, 1/I/L: a case reference is read aloud on the phone.
_CASE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_case_reference() -> str:
    """A neutral reference that identifies a patient in e-mails and exports without a name."""
    return "C-" + "".join(secrets.choice(_CASE_ALPHABET) for _ in range(6))


class Patient(models.Model):
    """A patient's account in one clinic, with the therapist who treats them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    therapist = models.ForeignKey(
        StaffMember, on_delete=models.PROTECT, null=True, blank=True, related_name="patients",
        limit_choices_to={"is_therapist": True},
    )
    case_reference = models.CharField(max_length=12, unique=True, default=new_case_reference)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_reference"]

    def __str__(self):
        return self.case_reference

    @property
    def display_name(self) -> str:
        return self.user.get_full_name()
