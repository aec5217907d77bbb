from django import forms
from django.utils.translation import gettext_lazy as _

from icbt.models import Notification, NotificationPreference

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]
HOURS = [(hour, f"{hour:02d}:00") for hour in range(24)]


class NotificationPreferenceForm(forms.Form):
    """E-mail on or off, the rhythm, and which kinds of news; ``kinds`` are the ones this
    person can receive (``messaging.notifications.preferences.kinds_for_user``)."""

    email_enabled = forms.BooleanField(
        label=_("Send me e-mails about news in the application"), required=False
    )
    frequency = forms.ChoiceField(
        label=_("How often"), choices=NotificationPreference.Frequency.choices, widget=forms.RadioSelect
    )
    hour = forms.TypedChoiceField(label=_("At (daily and weekly e-mails)"), choices=HOURS, coerce=int)
    weekday = forms.TypedChoiceField(label=_("On (weekly e-mail)"), choices=WEEKDAYS, coerce=int)
    urgent_soon = forms.BooleanField(
        label=_("Send urgent items within a few minutes, whatever the rhythm"), required=False
    )
    kinds = forms.MultipleChoiceField(
        label=_("Tell me about"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self, *args, preference: NotificationPreference, kinds: list[str], show_urgent: bool, **kwargs
    ):
        initial = {
            "email_enabled": preference.email_enabled,
            "frequency": preference.frequency,
            "hour": preference.hour,
            "weekday": preference.weekday,
            "urgent_soon": preference.urgent_soon,
            "kinds": [kind for kind in kinds if preference.wants(kind)],
        }
        super().__init__(*args, initial=initial, **kwargs)
        labels = dict(Notification.Kind.choices)
        self.fields["kinds"].choices = [(kind, labels[kind]) for kind in kinds]
        if not kinds:
            del self.fields["kinds"]
        if not show_urgent:
            del self.fields["urgent_soon"]


class FirstChoiceForm(forms.Form):
    """The question a patient answers once, at their first sign-in."""

    EMAIL = "email"
    NONE = "none"

    choice = forms.ChoiceField(
        label=_("How do you want to hear about new feedback from your therapist?"),
        choices=[
            (EMAIL, ""),  # named with the hour in __init__
            (NONE, _("No e-mail. I will look in the application myself.")),
        ],
        initial=EMAIL,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, hour: int, **kwargs):
        """``hour``: the hour of the daily e-mail that choosing e-mail saves, so the promise
        and the stored preference say the same."""
        super().__init__(*args, **kwargs)
        email = _(
            "Send me one short e-mail a day, at %(time)s, when something new is waiting. The e-mail "
            "only says that there is something new, never what."
        ) % {"time": f"{hour:02d}:00"}
        self.fields["choice"].choices = [(self.EMAIL, email), *self.fields["choice"].choices[1:]]
