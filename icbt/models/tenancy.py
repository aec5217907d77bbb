"""Tenancy: clinics, their teams and the staff who work in them.

Every app stands on these rows, so they live on the bottom floor beside the user model. The
tables keep the names they had when the models lived in ``therapists``.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Accent(models.TextChoices):
    """Colours a clinic may choose for its accent. Each keeps WCAG AA contrast on white, on the
    header's background and against the text colour (tests/therapists/test_clinic_identity.py);
    the stylesheet holds the same values as classes (static/css/icbt.css)."""

    BLUE = "blue", _("Blue")
    TEAL = "teal", _("Teal")
    GREEN = "green", _("Green")
    PURPLE = "purple", _("Purple")
    PLUM = "plum", _("Plum")
    RUST = "rust", _("Rust")
    INDIGO = "indigo", _("Indigo")


ACCENT_COLOURS = {
    Accent.BLUE: ("#0f72b8", "#0a5285"),
    Accent.TEAL: ("#0e7c7c", "#095454"),
    Accent.GREEN: ("#207e3f", "#165a2c"),
    Accent.PURPLE: ("#9051bd", "#683a8a"),
    Accent.PLUM: ("#b1438d", "#813066"),
    Accent.RUST: ("#bb4b1b", "#883613"),
    Accent.INDIGO: ("#5366c6", "#3a4a99"),
}


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
    display_name = models.CharField(
        _("name shown to staff and patients"),
        max_length=80,
        blank=True,
        help_text=_("Leave empty to show the clinic's registered name."),
    )
    logo = models.BinaryField(_("logo"), blank=True, default=b"", editable=False)
    logo_type = models.CharField(max_length=20, blank=True, editable=False)
    accent = models.CharField(_("colour"), max_length=12, choices=Accent.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "therapists_clinic"
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def shown_name(self) -> str:
        return self.display_name or self.name

    @property
    def logo_src(self) -> str:
        """The logo as a data: address (already made safe when it was saved), or ""."""
        from icbt.logos import logo_data_uri

        return logo_data_uri(self.logo, self.logo_type) if self.logo_type else ""

    @property
    def accent_colours(self) -> tuple[str, str] | None:
        """(accent, darker accent) for PDFs, which cannot use the site's stylesheet classes."""
        return ACCENT_COLOURS.get(self.accent)


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
