"""Tenancy: clinics, their teams and the staff who work in them.

Every app stands on these rows, so they live on the bottom floor beside the user model. The
tables keep the names they had when the models lived in ``therapists``.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Clinic(models.Model):
    """A mental-health organisation: an institute with several locations or teams, or a small
    practice where one person is therapist and manager at once."""

    class Kind(models.TextChoices):
        INSTITUTE = "institute", _("institute")
        PRACTICE = "practice", _("practice")

    name = models.CharField(_("name"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.INSTITUTE)
    crisis_instructions = models.TextField(
        _("crisis instructions"),
        blank=True,
        help_text=_("Shown to patients where they write messages: whom to call in an emergency."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "therapists_clinic"
        ordering = ["name"]

    def __str__(self):
        return self.name


class Team(models.Model):
    """A team or location within a clinic (for example Pain and Fatigue)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        db_table = "therapists_team"
        ordering = ["clinic", "name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="team_name_unique_in_clinic")]

    def __str__(self):
        return f"{self.clinic} / {self.name}"


class StaffMember(models.Model):
    """A person's place in one clinic. A person may hold several roles at once."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="staff")
    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    is_therapist = models.BooleanField(_("therapist"), default=False)
    is_manager = models.BooleanField(_("manager"), default=False)
    is_clinic_admin = models.BooleanField(_("clinic admin"), default=False)
    training_date = models.DateField(_("ICBT training date"), null=True, blank=True)

    class Meta:
        db_table = "therapists_staffmember"
        ordering = ["clinic", "user__email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_therapist=True)
                | models.Q(is_manager=True)
                | models.Q(is_clinic_admin=True),
                name="staff_has_a_role",
            )
        ]

    def __str__(self):
        return f"{self.user} @ {self.clinic}"

    @property
    def roles(self) -> list[str]:
        roles = []
        if self.is_therapist:
            roles.append("therapist")
        if self.is_manager:
            roles.append("manager")
        if self.is_clinic_admin:
            roles.append("clinic_admin")
        return roles
