from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from icbt.dates import DayField
from icbt.logos import MAX_BYTES, logo_clean
from icbt.models import Accent, AuditEvent, Clinic, Team, User


class StaffInviteForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=80)
    last_name = forms.CharField(label=_("Last name"), max_length=80)
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    # One group with its legend ("Roles"), at least one ticked; the service takes them as
    # is_therapist, is_manager and is_clinic_admin (see clean).
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=[
            ("therapist", _("Therapist")),
            ("manager", _("Manager")),
            ("clinic_admin", _("Clinic admin")),
        ],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one role.")},
    )
    teams = forms.ModelMultipleChoiceField(
        label=_("Teams"), queryset=Team.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    training_date = DayField(
        label=_("ICBT training date"),
        required=False,
        help_text=_("Leave empty if the training is still to come."),
    )

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["teams"].queryset = Team.objects.filter(clinic=clinic)

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("There is already an account with this e-mail address."))
        return email

    def clean(self):
        data = super().clean()
        roles = set(data.pop("roles", None) or ())
        for role in ("therapist", "manager", "clinic_admin"):
            data[f"is_{role}"] = role in roles
        return data


class AuditSearchForm(forms.Form):
    patient = forms.CharField(
        label=_("Patient"), help_text=_("Case reference or name"), required=False, max_length=100
    )
    staff_member = forms.CharField(
        label=_("Staff member"), help_text=_("Name or e-mail address"), required=False, max_length=254
    )
    action = forms.ChoiceField(
        label=_("What they did"),
        required=False,
        choices=[("", _("Anything"))] + list(AuditEvent.Action.choices),
    )
    date_from = DayField(label=_("From"), required=False)
    date_to = DayField(label=pgettext_lazy("end of a period", "To"), required=False)


class ClinicIdentityForm(forms.ModelForm):
    """The clinic's name, logo and colour as its staff and patients see them in the app."""

    logo_file = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=_("An SVG or PNG file of at most %(size)s KB. It is shown in the header and on PDFs.")
        % {"size": MAX_BYTES // 1024},
        widget=forms.ClearableFileInput(attrs={"accept": "image/svg+xml,image/png"}),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    class Meta:
        model = Clinic
        fields = ["display_name", "accent"]
        widgets = {"accent": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accent"].choices = [("", _("The standard colour"))] + list(Accent.choices)
        self.fields["accent"].label = _("Colour")
        if not self.instance.logo_type:
            del self.fields["remove_logo"]

    def clean_logo_file(self):
        upload = self.cleaned_data.get("logo_file")
        if upload is None:
            return None
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                _("The logo is too large: at most %(size)s KB.") % {"size": MAX_BYTES // 1024}
            )
        return logo_clean(upload.read())
