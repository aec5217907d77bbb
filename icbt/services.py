"""Writes that belong to the platform itself: invitations and account state."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from icbt.models import Invitation, User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def invitation_create(*, user: User, kind: str, created_by: User | None) -> str:
    """Create a single-use invitation for ``user`` and e-mail its link after commit.

    Earlier unused invitations of the user stop working, so only the newest link is valid.
    Returns the token (shown nowhere else; only its hash is stored).
    """
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    Invitation.objects.filter(user=user, used_at__isnull=True).update(expires_at=now)
    invitation = Invitation(
        user=user,
        kind=kind,
        token_hash=_hash(token),
        created_by=created_by,
        expires_at=now + timedelta(days=settings.ICBT_INVITATION_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    link = settings.SITE_URL + reverse("invitation_accept", args=[token])
    transaction.on_commit(lambda: _send_invitation_email(user=user, link=link))
    return token


def _send_invitation_email(*, user: User, link: str) -> None:
    """The e-mail says only that an account waits and how long the link works: no clinic,
    no treatment, no health wording (it may be read by others in the household)."""
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {"link": link, "days": settings.ICBT_INVITATION_DAYS}
        subject = render_to_string("emails/invitation_subject.txt", context).strip()
        body = render_to_string("emails/invitation.txt", context)
        html = render_to_string("emails/invitation.html", context)
    message = EmailMultiAlternatives(subject=subject, body=body, to=[user.email])
    message.attach_alternative(html, "text/html")
    message.send()


def invitation_get(*, token: str) -> Invitation | None:
    invitation = Invitation.objects.select_related("user").filter(token_hash=_hash(token)).first()
    if invitation is None or not invitation.is_usable:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, password: str) -> User | None:
    """Set the password and use up the invitation. Returns None when the link is not usable.

    The row is locked and re-checked, so two clicks at once cannot both succeed.
    """
    invitation = (
        Invitation.objects.select_for_update().select_related("user").filter(token_hash=_hash(token)).first()
    )
    if invitation is None or not invitation.is_usable:
        return None
    user = invitation.user
    validate_password(password, user)
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    return user


def user_deactivate(*, user: User) -> None:
    """Deactivate an account and end every session it has, at once."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    user_sessions_end(user=user)


def user_sessions_end(*, user: User) -> int:
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def user_update_language(*, user: User, language: str) -> None:
    user.language = language
    user.full_clean(exclude=["password"])
    user.save(update_fields=["language"])
