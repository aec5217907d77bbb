from allauth.mfa.totp.forms import ActivateTOTPForm as AllauthActivateTOTPForm
from allauth.mfa.totp.internal import auth as totp_auth
from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(
        label=_("New password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
        max_length=128,
    )
    password2 = forms.CharField(
        label=_("New password again"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=128,
    )

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords are not the same."))
        elif p1:
            try:
                validate_password(p1, self.user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label=_("New e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Your password"),
        help_text=_("So that nobody else can change your address on a computer you left signed in."),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        max_length=128,
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("This is not your current password."))
        return password


class PersonalSettingsForm(forms.Form):
    # Each language by its own name, as in the switch in the footer.
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[
            (code, get_language_info(code)["name_local"].capitalize()) for code, _name in settings.LANGUAGES
        ],
    )


# Plain words for the checks Django words as "Ensure this value is ...": the same for every form
# that takes them (``plain_messages``). Nothing typed is cut off: a text field carries no
# ``maxlength`` attribute (a browser would silently drop what is pasted beyond it); the length is
# checked on the server, which says by how much and keeps the text.
PLAIN_MESSAGES = {
    "max_length": _(
        "This is %(show_value)s characters long, and the most is %(limit_value)s. "
        "Please make it shorter; what you wrote is kept."
    ),
    "min_length": _("Please write at least %(limit_value)s characters."),
    "max_value": _("Enter a number of %(limit_value)s or less."),
    "min_value": _("Enter a number of %(limit_value)s or more."),
    "max_digits": _("This number is too long. Enter a shorter number."),
    "max_whole_digits": _("This number is too large. Enter a smaller number."),
    "max_decimal_places": _("Use at most %(max)s digit after the decimal point, like 2.5."),
    "step_size": _("Enter a number in steps of %(limit_value)s."),
}
PLAIN_INVALID = {
    forms.IntegerField: _("Enter a whole number, like 3."),
    forms.DecimalField: _("Enter a number, like 3 or 2.5."),
    forms.FloatField: _("Enter a number, like 3 or 2.5."),
    forms.TimeField: _("Enter a time, like 07:30."),
    forms.DateField: _("Enter a date: day, month and year."),
}


def plain_messages(form: forms.Form) -> forms.Form:
    """Give every field of ``form`` the plain messages above (call at the end of ``__init__``)."""
    for field in form.fields.values():
        plain_field(field)
    return form


def plain_field(field: forms.Field) -> forms.Field:
    """``plain_messages`` for one field. A message the field was given itself (more specific
    than the plain one, such as "Points can't be below 0.") is kept."""
    defaults = {}
    for cls in reversed(type(field).__mro__):
        defaults.update(getattr(cls, "default_error_messages", {}))
    messages = field.error_messages

    def plain(code, message):
        if code not in messages or messages[code] is defaults.get(code):
            messages[code] = message

    for code, message in PLAIN_MESSAGES.items():
        plain(code, message)
    for kind, message in PLAIN_INVALID.items():
        if isinstance(field, kind):
            plain("invalid", message)
            break
    if isinstance(field, forms.CharField):
        field.widget.attrs.pop("maxlength", None)
    return field


class PlainMessagesMixin:
    """A form with ``plain_messages``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        plain_messages(self)


class ActivateTOTPForm(AllauthActivateTOTPForm):
    """allauth's TOTP set-up form, but a reload of the page shows the same secret.

    allauth makes a new secret on every GET, so someone who scans the QR code and then reloads
    (or comes back from another tab) is asked for a code of a secret their app does not have.
    The pending secret stays in the session until set-up succeeds (allauth then removes it)."""

    def __init__(self, *args, **kwargs):
        self.user = kwargs.pop("user")
        forms.Form.__init__(self, *args, **kwargs)
        self.secret = totp_auth.get_totp_secret(regenerate=False)


class StyleguideForm(forms.Form):
    """The form fields of the styleguide page, shown with one field in its error state."""

    name = forms.CharField(label=_("Your name"), help_text=_("As you want us to call you."))
    note = forms.CharField(label=_("A note"), required=False, widget=forms.Textarea)
    choice = forms.ChoiceField(
        label=_("How are you today?"),
        choices=[("a", _("Good")), ("b", _("Fair")), ("c", _("Bad"))],
        widget=forms.RadioSelect,
    )
    choices = forms.MultipleChoiceField(
        label=_("Tell me about"),
        choices=[("x", _("Sleep")), ("y", _("Activity")), ("z", _("Thoughts"))],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    agree = forms.BooleanField(label=_("I have read this"), required=False)
