"""E-mail preferences for notifications: reading them with their defaults, changing them, and
the signed one-click unsubscribe link.

Defaults (a person without a ``NotificationPreference`` row): staff get e-mail, a daily digest
at 08:00; patients get no e-mail until they opt in on their settings page.
"""

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from icbt.models import Notification, NotificationPreference, User
from icbt.roles import roles_of

Kind = Notification.Kind

THERAPIST_KINDS = [
    Kind.DIARY_ENTRY,
    Kind.ASSIGNMENT_SUBMITTED,
    Kind.QUESTIONNAIRE_COMPLETED,
    Kind.MESSAGE_RECEIVED,
    Kind.FEEDBACK_DUE,
    Kind.FEEDBACK_OVERDUE,
    Kind.PATIENT_INACTIVE,
    Kind.INTAKE_REQUEST,
    Kind.REFERRAL,
]
PATIENT_KINDS = [
    Kind.FEEDBACK_WAITING,
    Kind.MESSAGE_WAITING,
    Kind.MODULE_OPENED,
    Kind.DIARY_DUE,
    Kind.INACTIVITY_REMINDER,
]
MANAGER_KINDS = [Kind.WEEKLY_SUMMARY]
# News that is still worth hearing about after e-mail is switched on: unread feedback and messages.
ANNOUNCED_WHEN_SWITCHED_ON = [Kind.FEEDBACK_WAITING, Kind.MESSAGE_WAITING]

_UNSUBSCRIBE_SALT = "icbt.notifications.unsubscribe"


def kinds_for_user(user) -> list[str]:
    """The kinds of notification this person can receive, in the order the settings page shows."""
    roles = roles_of(user)
    kinds: list[str] = []
    if roles.patient is not None:
        kinds += PATIENT_KINDS
    staff = roles.staff
    if staff is not None:
        if staff.is_therapist or staff.is_clinic_admin:
            kinds += THERAPIST_KINDS
        if staff.is_manager:
            kinds += MANAGER_KINDS
    return list(dict.fromkeys(kinds))


def preference_for_user(user) -> NotificationPreference:
    """The stored preference, or an unsaved one with the defaults for this person's role."""
    preference = NotificationPreference.objects.filter(user=user).first()
    if preference is None:
        preference = NotificationPreference.defaults_for(user, is_patient=roles_of(user).patient is not None)
    return preference


def preference_of_loaded(user) -> NotificationPreference:
    """The preference of a user read with ``select_related("notification_preference")`` (and
    their roles): the stored one, else the defaults, without a query."""
    try:
        return user.notification_preference
    except NotificationPreference.DoesNotExist:
        return NotificationPreference.defaults_for(user, is_patient=roles_of(user).patient is not None)


@transaction.atomic
def preference_update(
    *,
    user: User,
    email_enabled: bool,
    frequency: str,
    hour: int,
    weekday: int,
    urgent_soon: bool,
    kinds_on: list[str],
) -> NotificationPreference:
    """Save this person's choices. Kinds they cannot receive are ignored."""
    preference = NotificationPreference.objects.select_for_update().filter(user=user).first()
    if preference is None:
        preference = preference_for_user(user)
    switched_on = email_enabled and not preference.email_enabled
    available = kinds_for_user(user)
    preference.email_enabled = email_enabled
    preference.frequency = frequency
    preference.hour = hour
    preference.weekday = weekday
    preference.urgent_soon = urgent_soon
    preference.kinds_off = [kind for kind in available if kind not in set(kinds_on)]
    preference.updated_at = timezone.now()
    preference.full_clean(exclude=["user"])
    preference.save()
    if switched_on:
        _announce_unread(user)
    return preference


def needs_first_choice(user) -> bool:
    """A patient who has never said how they want to hear about new feedback (no stored row)."""
    return (
        roles_of(user).patient is not None and not NotificationPreference.objects.filter(user=user).exists()
    )


@transaction.atomic
def preference_first_choice(*, user: User, email_enabled: bool) -> NotificationPreference:
    """Store a patient's answer to the question asked once at their first sign-in: e-mail on
    (a daily e-mail that only says something new waits) or off. A stored choice is never
    overwritten here (two tabs, a repeated post): it is changed on the settings page."""
    preference = NotificationPreference.objects.select_for_update().filter(user=user).first()
    if preference is not None:
        return preference
    preference = preference_for_user(user)
    preference.email_enabled = email_enabled
    preference.updated_at = timezone.now()
    preference.full_clean(exclude=["user"])
    preference.save()
    if email_enabled:
        _announce_unread(user)
    return preference


def _announce_unread(user) -> int:
    """E-mail was just switched on: news about feedback and messages that the digest dropped
    while it was off becomes pending again, so the next digest announces it. The digest
    re-checks every row at send time, so whatever was read in the meantime is not announced."""
    return Notification.objects.filter(
        recipient=user,
        state=Notification.State.DROPPED,
        dropped_reason="email_off",
        kind__in=ANNOUNCED_WHEN_SWITCHED_ON,
    ).update(state=Notification.State.PENDING, dropped_reason="", handled_at=None, digest=None)


@transaction.atomic
def preference_email_off(*, user: User) -> NotificationPreference:
    """Turn e-mail off for this person (the one-click unsubscribe). Safe to repeat."""
    preference = NotificationPreference.objects.select_for_update().filter(user=user).first()
    if preference is None:
        preference = preference_for_user(user)
    preference.email_enabled = False
    preference.updated_at = timezone.now()
    preference.save()
    return preference


def unsubscribe_token(user) -> str:
    """A signed token naming the user, for the link that works without signing in.

    Signed with Django's signing framework (SECRET_KEY), so nobody can turn off someone else's
    e-mail by guessing. It carries only the user id: nothing about treatment or clinic.
    """
    return signing.dumps({"u": user.pk}, salt=_UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_user(token: str) -> User | None:
    """The user of a valid token, or None."""
    try:
        data = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    return User.objects.filter(pk=data["u"]).first()


def url_name(name: str) -> str:
    """The full URL name of ``preferences`` or ``unsubscribe`` (messaging/notifications/urls.py,
    included from messaging/urls.py)."""
    return f"messaging:notifications:{name}"


def unsubscribe_path(user) -> str:
    return reverse(url_name("unsubscribe"), kwargs={"token": unsubscribe_token(user)})


def preferences_path() -> str:
    return reverse(url_name("preferences"))
