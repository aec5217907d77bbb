from django import forms
from django.utils.translation import gettext_lazy as _

from icbt.dates import DayField
from icbt.models import AuditEvent, Team, User


class StaffInviteForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=80)
    last_name = forms.CharField(label=_("Last name"), max_length=80)
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    is_therapist = forms.BooleanField(label=_("Therapist"), required=False)
    is_manager = forms.BooleanField(label=_("Manager"), required=False)
    is_clinic_admin = forms.BooleanField(label=_("Clinic admin"), required=False)
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
        if not (data.get("is_therapist") or data.get("is_manager") or data.get("is_clinic_admin")):
            raise forms.ValidationError(_("Choose at least one role."))
        return data


class AuditSearchForm(forms.Form):
    user_email = forms.CharField(label=_("Staff member (e-mail contains)"), required=False, max_length=254)
    patient_id = forms.IntegerField(label=_("Patient number"), required=False, min_value=1)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("Any action"))] + list(AuditEvent.Action.choices)
    )
    date_from = DayField(label=_("From"), required=False)
    date_to = DayField(label=_("To"), required=False)
