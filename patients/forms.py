from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from icbt.models import User


class PatientInviteForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=80)
    last_name = forms.CharField(label=_("Last name"), max_length=80)
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, initial="en")

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("There is already an account with this e-mail address."))
        return email
