from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from icbt.dates import DayField
from messaging.models import FeedbackTemplate
from messaging.services import (
    MESSAGE_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    placeholders_validate,
    text_validate,
)
from patients.models import TimelineEvent
from patients.services.sharing import SHARE_MAX_DAYS


@sensitive_variables("value")
def _field_error(validate, value, **kwargs):
    """Run a service validator that reports ``{"body": ...}`` and raise it as a field error."""
    try:
        return validate(value, **kwargs)
    except ValidationError as exc:
        raise ValidationError(exc.error_dict["body"]) from None


class MessageForm(forms.Form):
    """The patient's reply. ``strip=False`` and no ``maxlength`` attribute: what was typed is
    kept exactly, and a too-long text gets a message instead of being cut off by the browser."""

    body = forms.CharField(
        label=_("Your message"),
        strip=False,
        error_messages={"required": _("Write a message before sending.")},
        widget=forms.Textarea(attrs={"rows": 6, "data-draft-body": ""}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].help_text = gettext("At most %(max)s characters.") % {"max": MESSAGE_MAX_LENGTH}

    def clean_body(self):
        return _field_error(text_validate, self.cleaned_data.get("body"))


class ComposerForm(forms.Form):
    """The therapist's composer: text, the items it is about, and a template to insert.

    ``send`` comes from the button pressed: ``feedback`` (default), ``message`` (a plain reply)
    or ``insert`` (insert the chosen template without sending; works without JavaScript).
    """

    SEND_CHOICES = [
        ("feedback", _("Send feedback")),
        ("message", _("Send as a message")),
        ("insert", _("Insert")),
    ]

    body = forms.CharField(
        label=_("Your feedback or message"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "data-draft-body": ""}),
    )
    attach = forms.MultipleChoiceField(label=_("About"), required=False, widget=forms.CheckboxSelectMultiple)
    template = forms.ChoiceField(label=_("Template or snippet"), required=False)
    send = forms.ChoiceField(choices=SEND_CHOICES, required=False)

    def __init__(self, *args, allowed_refs=(), templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attach"].choices = [(ref, ref) for ref in sorted(allowed_refs)]
        self.fields["template"].choices = [("", _("Choose…"))] + [(str(t.pk), t.title) for t in templates]

    @property
    def selected_refs(self) -> set[str]:
        if self.is_bound:
            return set(self.data.getlist("attach")) if hasattr(self.data, "getlist") else set()
        return set(self.initial.get("attach", []))

    @property
    def action(self) -> str:
        return (self.cleaned_data.get("send") if hasattr(self, "cleaned_data") else "") or "feedback"

    def clean(self):
        cleaned = super().clean()
        if "send" in self._errors:
            # A button value the page never offers (a tampered or broken form): say so above the
            # form, where it shows, and send nothing.
            del self._errors["send"]
            self.add_error(
                None, _("We could not tell which button you pressed. Nothing was sent: press it again.")
            )
            return cleaned
        body = self.data.get("body", "") if self.is_bound else ""
        if (cleaned.get("send") or "feedback") == "insert":
            if not cleaned.get("template"):
                self.add_error("template", _("Choose a template to insert."))
            cleaned["body"] = body
            return cleaned
        try:
            cleaned["body"] = _field_error(text_validate, body)
        except ValidationError as exc:
            self.add_error("body", exc)
        return cleaned


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("New note"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write the note first.")},
        help_text=_(
            "Only you and colleagues who treat or cover for this patient can read notes. The patient cannot."
        ),
    )

    def clean_body(self):
        return _field_error(
            text_validate,
            self.cleaned_data.get("body"),
            max_length=NOTE_MAX_LENGTH,
            empty_message=_("Write the note first."),
        )


class TemplateForm(forms.ModelForm):
    scope = forms.ChoiceField(
        label=_("Who can use it"),
        choices=[("personal", _("only me")), ("clinic", _("everyone in the clinic"))],
        required=False,
        widget=forms.RadioSelect,
    )

    class Meta:
        model = FeedbackTemplate
        fields = ["title", "body", "is_snippet"]
        widgets = {"title": forms.TextInput(), "body": forms.Textarea(attrs={"rows": 8})}
        help_texts = {
            "body": _(
                "Placeholders: {first_name} becomes the patient's first name, {therapist_name} your name."
            ),
            "is_snippet": _("A snippet is a sentence or two to add to your own text."),
        }

    def __init__(self, *args, choose_scope: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not choose_scope:
            del self.fields["scope"]
        else:
            self.fields["scope"].initial = "personal"
        self.fields["body"].max_length = 4000

    def clean_body(self):
        body = self.cleaned_data.get("body", "")
        _field_error(placeholders_validate, body)
        return body


class ShareForm(forms.Form):
    colleague = forms.ModelChoiceField(label=_("Colleague"), queryset=None, empty_label=_("Choose…"))
    until = DayField(label=_("Until (this day included)"))

    def __init__(self, *args, colleagues, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["colleague"].queryset = colleagues
        self.fields["colleague"].label_from_instance = lambda staff: staff.user.get_full_name()

    def clean_until(self):
        until = self.cleaned_data["until"]
        today = timezone.localdate()
        if until < today:
            raise ValidationError(_("Choose today or a later date."))
        if until > today + timedelta(days=SHARE_MAX_DAYS):
            raise ValidationError(
                _("Share for at most %(days)s days at a time."), params={"days": SHARE_MAX_DAYS}
            )
        return until


class UrgentContactForm(forms.Form):
    """The record that goes with reviewing a self-harm answer: how and when the patient was
    contacted, or to whom it was handed over (``services.item_mark_reviewed``)."""

    method = forms.ChoiceField(
        label=_("How did you contact the patient?"),
        choices=TimelineEvent.ContactMethod.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how you contacted the patient.")},
    )
    on = DayField(label=_("Day of the contact"))
    handed_to = forms.ModelChoiceField(
        label=_("Handed over to (only for a handover)"),
        queryset=None,
        required=False,
        empty_label=_("Choose…"),
    )

    def __init__(self, *args, colleagues, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handed_to"].queryset = colleagues
        self.fields["handed_to"].label_from_instance = lambda staff: staff.user.get_full_name()
        self.fields["on"].initial = timezone.localdate()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("method") == TimelineEvent.ContactMethod.HANDOVER and not cleaned.get("handed_to"):
            self.add_error("handed_to", _("Choose the colleague who took it over."))
        return cleaned
