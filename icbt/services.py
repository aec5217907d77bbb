"""Writes that belong to the platform itself: invitations and account state."""

import hashlib
import secrets
from datetime import timedelta
from email.mime.image import MIMEImage
from importlib import import_module

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from icbt.audit import Action, audit_record
from icbt.logos import PNG_TYPE
from icbt.models import Invitation, User
from icbt.roles import roles_of

_EMAIL_CHANGE_SALT = "icbt.email-change"
EMAIL_CHANGE_HOURS = 24
LOGO_CID = "clinic-logo"  # the Content-ID of the clinic's logo inside a staff invitation


def _hash(token: str) -> str:
    # Tokens are ASCII, whose UTF-8 bytes are the same. Anything else typed into an address bar
    # ("/invitation/%C3%A9/") hashes to nothing stored: an unknown token, not an error.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


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
    staff = roles_of(user).staff if kind == Invitation.Kind.STAFF else None
    clinic = staff.clinic if staff is not None else None
    transaction.on_commit(lambda: _send_invitation_email(user=user, link=link, clinic=clinic))
    return token


def _send_invitation_email(*, user: User, link: str, clinic=None) -> None:
    """The e-mail says only that an account waits and how long the link works: no treatment, no
    health wording, and to a patient no clinic (it may be read by others in the household). A new
    staff member's e-mail names their clinic, so that they know whom it comes from, with its
    logo when that is a PNG (e-mail programs do not show SVG images)."""
    logo = clinic is not None and clinic.logo_type == PNG_TYPE
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {"link": link, "days": settings.ICBT_INVITATION_DAYS, "clinic": clinic}
        context["logo_cid"] = LOGO_CID if logo else ""
        subject = render_to_string("emails/invitation_subject.txt", context).strip()
        body = render_to_string("emails/invitation.txt", context)
        html = render_to_string("emails/invitation.html", context)
    message = EmailMultiAlternatives(subject=subject, body=body, to=[user.email])
    message.attach_alternative(html, "text/html")
    if logo:
        message.mixed_subtype = "related"  # the image belongs to the HTML part, not an attachment
        message.attach(_inline_image(bytes(clinic.logo), LOGO_CID))
    message.send()


def _inline_image(data: bytes, content_id: str) -> MIMEImage:
    image = MIMEImage(data, "png")
    image.add_header("Content-ID", f"<{content_id}>")
    image.add_header("Content-Disposition", "inline", filename=f"{content_id}.png")
    return image


def invitation_ensure(*, user: User, kind: str, created_by: User | None) -> bool:
    """Make sure ``user`` has a working invitation: one per person at a time.

    When a usable invitation exists already (sent a moment ago when the account was made), it is
    kept and nothing is sent, so the link in the person's mailbox stays the one that works.
    Otherwise a new invitation is created and e-mailed. Returns whether one was sent.
    """
    if Invitation.objects.filter(user=user, used_at__isnull=True, expires_at__gt=timezone.now()).exists():
        return False
    invitation_create(user=user, kind=kind, created_by=created_by)
    return True


def invitation_get(*, token: str) -> Invitation | None:
    invitation = Invitation.objects.select_related("user").filter(token_hash=_hash(token)).first()
    if invitation is None or not invitation.is_usable:
        return None
    return invitation


def invitation_refusal(*, token: str) -> str:
    """Why a token that ``invitation_get`` refused does not work, in one word:

    ``used`` (this or a newer invitation of the same person set the password), ``superseded``
    (a newer invitation was sent after this one), ``expired`` or ``unknown``. Says nothing about
    whose invitation it is.
    """
    invitation = Invitation.objects.filter(token_hash=_hash(token)).first()
    if invitation is None:
        return "unknown"
    if Invitation.objects.filter(user_id=invitation.user_id, used_at__isnull=False).exists():
        return "used"  # this link or a newer one set the password already
    if Invitation.objects.filter(user_id=invitation.user_id, pk__gt=invitation.pk).exists():
        return "superseded"
    return "expired"


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
    """End every live session of ``user``: through the session engine, so that a copy in the
    session cache ends with the row."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            store().delete(session.session_key)
            ended += 1
    return ended


def user_update_language(*, user: User, language: str) -> None:
    user.language = language
    user.full_clean(exclude=["password"])
    user.save(update_fields=["language"])


# --- Changing one's e-mail address ------------------------------------------------------------


def _send_mail(*, to: str, language: str, template: str, context: dict) -> None:
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
        body = render_to_string(f"emails/{template}.txt", context)
    EmailMultiAlternatives(subject=subject, body=body, to=[to]).send()


def email_change_request(*, user: User, new_email: str) -> bool:
    """Send a confirmation link to ``new_email``; nothing changes until it is opened.

    Returns whether a link was sent. Nothing is sent for the current address or for an address
    that another account uses; the caller shows the same words either way, so the page does not
    tell who has an account. The link is signed (SECRET_KEY), names the user, the address it
    changes from and the one it changes to, works for ``EMAIL_CHANGE_HOURS`` hours and stops
    working once the address has changed.
    """
    new_email = User.objects.normalize_email(new_email).strip().lower()
    if new_email == user.email.lower() or User.objects.filter(email__iexact=new_email).exists():
        return False
    token = signing.dumps({"u": user.pk, "from": user.email, "to": new_email}, salt=_EMAIL_CHANGE_SALT)
    link = settings.SITE_URL + reverse("email_change_confirm", args=[token])
    context = {"link": link, "hours": EMAIL_CHANGE_HOURS}
    language = user.language
    transaction.on_commit(
        lambda: _send_mail(to=new_email, language=language, template="email_change", context=context)
    )
    return True


def email_change_pending(*, token: str) -> tuple[User, str] | None:
    """``(user, new address)`` of a link that still works, else None."""
    try:
        data = signing.loads(token, salt=_EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_HOURS * 3600)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), t) for k, t in (("u", int), ("from", str), ("to", str))
    ):
        return None
    user = User.objects.filter(pk=data["u"], is_active=True).first()
    if user is None or user.email != data["from"]:
        return None
    return user, data["to"]


@transaction.atomic
def email_change_confirm(*, token: str) -> User | None:
    """Switch the address of a valid link. None when the link no longer works or the address
    has been taken in the meantime. Each account keeps exactly one address: allauth's address
    rows of the user are removed, so no other address can ever reset its password. The old
    address gets a short notice, so a change nobody asked for does not go unnoticed."""
    pending = email_change_pending(token=token)
    if pending is None:
        return None
    user = User.objects.select_for_update().get(pk=pending[0].pk)
    old_email, new_email = user.email, pending[1]
    if (
        user.email != pending[0].email
        or User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists()
    ):
        return None
    user.email = new_email
    user.full_clean(exclude=["password"])
    user.save(update_fields=["email"])
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=user).delete()
    audit_record(user=user, action=Action.EMAIL_CHANGE, object_type="user", object_id=user.pk)
    language = user.language
    transaction.on_commit(
        lambda: _send_mail(to=old_email, language=language, template="email_changed_notice", context={})
    )
    return user
