"""Every write of the messaging app: messages and feedback, drafts, reviews, templates, internal
notes and covering (sharing a patient with a colleague).

Privacy. These functions receive clinical free text (message bodies, drafts, notes). They never
log it, never put it in an exception message, never hand it to a task or an e-mail:
``sensitive_variables()`` (all variables, so also the keyword arguments held by the frame of
``transaction.atomic``) keeps it out of error reports, validation messages only state lengths,
and bodies are stored through ``EncryptedTextField`` (encrypted in ``save()``). The digests
hook in here and must pass ids only.

Permissions. Callers are views that have been through
:func:`patients.access.patient_for_staff`; each service checks again who is writing (the
patient, the treating therapist, or a colleague covering through an active share) so that no
other path can write into a conversation. A covering colleague's writes carry ``on_behalf_of``
(the treating therapist), in the row where the model has the column and in the audit event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.debug import sensitive_variables

from icbt.audit import Action, audit_record
from icbt.models import StaffMember
from icbt.notifications import Kind as NotificationKind
from icbt.notifications import notify
from icbt.roles import roles_of
from messaging import figures
from messaging.access import template_may_edit
from messaging.models import Conversation, FeedbackLink, FeedbackTemplate, Message, MessageDraft, StaffNote
from messaging.selectors import (
    REVIEWABLE_KINDS,
    ItemRef,
    items_for_enrollment,
    parse_item_ref,
    starter_copies_outdated,
    starters_not_copied,
)
from patients import services as patient_services
from patients import work_items
from patients.access import acting_on_behalf_of, staff_may_treat
from patients.models import (
    AssignmentAnswer,
    DiaryEntry,
    Enrollment,
    Patient,
    QuestionnaireResponse,
    TimelineEvent,
)

MESSAGE_MAX_LENGTH = 5000
NOTE_MAX_LENGTH = 5000
DRAFT_MAX_ATTACHMENTS = 100
PLACEHOLDERS = ("first_name", "therapist_name")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")

_REVIEW_MODELS = {"answer": AssignmentAnswer, "diary": DiaryEntry, "questionnaire": QuestionnaireResponse}
_LINK_FIELDS = {"answer": "answer", "diary": "diary_entry", "questionnaire": "questionnaire"}
AUDIT_OBJECT_TYPES = {
    "answer": "assignment_answer",
    "diary": "diary_entry",
    "questionnaire": "questionnaire_response",
}
TOO_LONG_MESSAGE = _lazy(
    "This text has %(length)s characters; the most is %(max)s. Shorten it, or send it in two parts."
)


# --- Validation shared by forms and services -----------------------------------------------------


@sensitive_variables("text")
def text_validate(
    text, *, field: str = "body", max_length: int = MESSAGE_MAX_LENGTH, empty_message=None
) -> str:
    """The text without surrounding white space; ValidationError (naming ``field``) if it is
    empty or longer than ``max_length``. The messages never quote the text."""
    text = (text or "").strip()
    if not text:
        raise ValidationError(
            {field: ValidationError(empty_message or _("Write a message before sending."), code="empty")}
        )
    if len(text) > max_length:
        raise ValidationError(
            {
                field: ValidationError(
                    TOO_LONG_MESSAGE,
                    code="too_long",
                    params={"length": len(text), "max": max_length},
                )
            }
        )
    return text


def placeholders_validate(text: str, *, field: str = "body") -> None:
    unknown = sorted({name for name in _PLACEHOLDER_RE.findall(text or "") if name not in PLACEHOLDERS})
    if unknown:
        raise ValidationError(
            {
                field: ValidationError(
                    _("Unknown placeholder %(names)s. You can use {first_name} and {therapist_name}."),
                    code="placeholder",
                    params={"names": ", ".join(f"{{{n}}}" for n in unknown)},
                )
            }
        )


# --- Who is writing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """Who writes in a conversation: the patient, or staff (with ``on_behalf_of`` when covering)."""

    is_patient: bool
    staff: StaffMember | None = None
    on_behalf_of: object | None = None  # the treating therapist's User when covering


def conversation_side(*, conversation: Conversation, user) -> Side:
    """The side ``user`` writes on; PermissionDenied for anyone who is not a party."""
    patient = conversation.enrollment.patient
    roles = roles_of(user)
    if roles.patient is not None and roles.patient.pk == patient.pk:
        return Side(is_patient=True)
    return _staff_side(patient=patient, user=user)


def _staff_side(*, patient: Patient, user) -> Side:
    staff = roles_of(user).staff
    if staff is not None:
        if staff_may_treat(staff, patient):
            return Side(is_patient=False, staff=staff)
        on_behalf_of = acting_on_behalf_of(staff, patient)
        if on_behalf_of is not None:
            return Side(is_patient=False, staff=staff, on_behalf_of=on_behalf_of)
    raise PermissionDenied


def _patient_waits_for_an_answer(conversation: Conversation) -> bool:
    """The conversation's last message is the patient's. After the treatment has ended the
    clinic may still answer it (a closing reply): ending a treatment does not answer a message."""
    last = conversation.messages.order_by("-created_at", "-pk").values_list("author__patient", flat=True)
    return last.first() is not None


def _require_open(enrollment: Enrollment) -> None:
    if not enrollment.is_open:
        raise ValidationError(_("This treatment has ended, so the message box is closed."), code="closed")


def _audit(*, side: Side, user, action, patient: Patient, object_type: str, object_id) -> None:
    audit_record(
        user=user,
        action=action,
        patient_id=patient.pk,
        clinic_id=patient.clinic_id,
        object_type=object_type,
        object_id=object_id,
        on_behalf_of=side.on_behalf_of,
    )


# --- Conversations and messages ---------------------------------------------------------------


def conversation_get_or_create(*, enrollment: Enrollment) -> Conversation:
    """The enrollment's one conversation, created on first use. Two requests racing to create it
    both get the same row (the one-to-one column decides; the loser reads the winner's)."""
    conversation = Conversation.objects.filter(enrollment=enrollment).first()
    if conversation is None:
        conversation = Conversation(enrollment=enrollment)
        conversation.full_clean(validate_unique=False)
        try:
            with transaction.atomic():
                conversation.save()
        except IntegrityError:
            conversation = Conversation.objects.get(enrollment=enrollment)
    conversation.enrollment = enrollment
    return conversation


@sensitive_variables()
def _message_save(*, conversation: Conversation, author, side: Side, body: str, **fields) -> Message:
    """A new message of the conversation, stored in its clinic (the scope of its data key). A
    staff member's {first_name} and {therapist_name} are filled in also when typed by hand, not
    only from a template (the patient would otherwise read the braces)."""
    if not side.is_patient and "{" in body:
        body = template_render(template=body, patient=conversation.enrollment.patient, author=author)
    message = Message(
        conversation=conversation,
        clinic_id=conversation.enrollment.clinic_id,
        author=author,
        on_behalf_of=side.on_behalf_of,
        body=body,
        **fields,
    )
    message.full_clean()
    message.save()
    # The author's staff row, as the dashboard's count of contacts asks it (``author__staff``).
    figures.counted(message, enrollment=conversation.enrollment, by_staff=roles_of(author).staff is not None)
    return message


@sensitive_variables()
@transaction.atomic
def message_send(*, conversation: Conversation, author, body: str) -> Message:
    """A message from the patient or from staff (a reply, a question, not tied to items).
    Clears the author's draft. Staff messages are audited; a covering colleague's carry
    ``on_behalf_of``."""
    side = conversation_side(conversation=conversation, user=author)
    enrollment = conversation.enrollment
    if side.is_patient or not _patient_waits_for_an_answer(conversation):
        _require_open(enrollment)
    body = text_validate(body)
    message = _message_save(conversation=conversation, author=author, side=side, body=body)
    work_items.refresh(enrollment=enrollment, kinds=("message",))
    MessageDraft.objects.filter(conversation=conversation, author=author).delete()
    recipient, kind = (
        (enrollment.therapist.user, NotificationKind.MESSAGE_RECEIVED)
        if side.is_patient
        else (enrollment.patient.user, NotificationKind.MESSAGE_WAITING)
    )
    notify(
        recipient=recipient,
        kind=kind,
        patient=enrollment.patient,
        object_type="message",
        object_id=message.pk,
    )
    if not side.is_patient:
        _audit(
            side=side,
            user=author,
            action=Action.CREATE,
            patient=enrollment.patient,
            object_type="message",
            object_id=message.pk,
        )
    return message


def _refs(items: Iterable[ItemRef | str], *, field: str = "attach") -> list[ItemRef]:
    refs: list[ItemRef] = []
    for item in items:
        ref = item if isinstance(item, ItemRef) else parse_item_ref(item)
        if ref is None:
            raise ValidationError({field: ValidationError(_("Choose items from the list."), code="invalid")})
        if ref not in refs:
            refs.append(ref)
    return refs


@sensitive_variables()
@transaction.atomic
def feedback_send(
    *,
    conversation: Conversation,
    author,
    body: str,
    items: Iterable[ItemRef | str] = (),
) -> Message:
    """Feedback from the therapist (or a covering colleague), attached to the items it is about.

    Guarantees, in one transaction: the message and one FeedbackLink per item; every attached
    answer, diary entry and questionnaire result marked reviewed (now, by the author), except a
    self-harm answer nobody handled yet (``is_open_urgent``: it waits for a record of the contact);
    ``Enrollment.last_feedback_at`` set, which moves the next due day; the author's draft gone;
    one audit event. Items must belong to this enrollment, otherwise nothing is written.
    """
    side = conversation_side(conversation=conversation, user=author)
    if side.is_patient:
        raise PermissionDenied
    enrollment = conversation.enrollment
    _require_open(enrollment)
    body = text_validate(body)
    refs = _refs(items)
    found = items_for_enrollment(enrollment=enrollment, refs=refs)
    if any(str(ref) not in found for ref in refs):
        raise ValidationError(
            {
                "attach": ValidationError(
                    _("Some of the chosen items are no longer there. Choose again."), code="missing"
                )
            }
        )
    now = timezone.now()
    message = _message_save(
        conversation=conversation, author=author, side=side, body=body, is_feedback=True, created_at=now
    )
    for ref in refs:
        if ref.kind == "module":
            link = FeedbackLink(message=message, module_number=ref.id)
        else:
            link = FeedbackLink(message=message, **{_LINK_FIELDS[ref.kind]: found[str(ref)]})
        link.full_clean()
        link.save()
    for kind, model in _REVIEW_MODELS.items():
        # A self-harm answer stays open: feedback on it is not a record of the contact
        # (``item_mark_reviewed`` asks for one).
        ids = [ref.id for ref in refs if ref.kind == kind and not is_open_urgent(found[str(ref)])]
        if ids:
            patient_services.items_mark_reviewed(
                model=model, enrollment=enrollment, ids=ids, reviewed_by=author, at=now
            )
    patient_services.enrollment_feedback_given(enrollment=enrollment, at=now)
    work_items.refresh(enrollment=enrollment, kinds=("message", "feedback", *work_items.REVIEW_KINDS))
    notify(
        recipient=enrollment.patient.user,
        kind=NotificationKind.FEEDBACK_WAITING,
        patient=enrollment.patient,
        object_type="message",
        object_id=message.pk,
    )
    MessageDraft.objects.filter(conversation=conversation, author=author).delete()
    _audit(
        side=side,
        user=author,
        action=Action.CREATE,
        patient=enrollment.patient,
        object_type="feedback",
        object_id=message.pk,
    )
    return message


def conversation_mark_read(*, conversation: Conversation, reader) -> int:
    """Sets ``read_at`` on the other side's unread messages when ``reader`` opens the
    conversation: the patient reads staff messages; the therapist (or covering colleague) reads
    the patient's. Returns how many were marked. One UPDATE; nothing for non-parties."""
    try:
        side = conversation_side(conversation=conversation, user=reader)
    except PermissionDenied:
        return 0
    patient_user_id = conversation.enrollment.patient.user_id
    unread = Message.objects.filter(conversation=conversation, read_at__isnull=True)
    if side.is_patient:
        unread = unread.exclude(author_id=patient_user_id)
    else:
        unread = unread.filter(author_id=patient_user_id)
    return unread.update(read_at=timezone.now())


@sensitive_variables()
@transaction.atomic
def draft_save(
    *,
    conversation: Conversation,
    author,
    body: str,
    attachments: Iterable[str] = (),
) -> MessageDraft | None:
    """Keep what the author is typing (encrypted), exactly as typed. An empty draft without
    attachments is deleted (returns None). Attachments that are not well-formed item references
    are dropped (an autosave must not fail on them); patients' drafts have none. Too-long text
    is refused with a ValidationError so the browser keeps its own copy."""
    side = conversation_side(conversation=conversation, user=author)
    body = body or ""
    if len(body) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {
                "body": ValidationError(
                    TOO_LONG_MESSAGE,
                    code="too_long",
                    params={"length": len(body), "max": MESSAGE_MAX_LENGTH},
                )
            }
        )
    refs: list[str] = []
    if not side.is_patient:
        for value in attachments:
            ref = parse_item_ref(value)
            if ref is not None and str(ref) not in refs:
                refs.append(str(ref))
        refs = refs[:DRAFT_MAX_ATTACHMENTS]
    existing = (
        MessageDraft.objects.select_for_update().filter(conversation=conversation, author=author).first()
    )
    if not body.strip() and not refs:
        if existing is not None:
            existing.delete()
        return None
    draft = existing or MessageDraft(
        conversation=conversation, clinic_id=conversation.enrollment.clinic_id, author=author
    )
    draft.body = body
    draft.attachments = refs
    draft.saved_at = timezone.now()
    draft.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            draft.save()
    except IntegrityError:
        # Another request created the draft between our read and our insert: update that one.
        draft = MessageDraft.objects.select_for_update().get(conversation=conversation, author=author)
        draft.body, draft.attachments, draft.saved_at = body, refs, timezone.now()
        draft.save(update_fields=["body", "attachments", "saved_at"])
    return draft


@dataclass(frozen=True)
class UrgentContact:
    """How the patient was reached after a self-harm answer (``TimelineEvent.ContactMethod``),
    on which day, and for a handover the colleague who took it over."""

    method: str
    on: date
    handed_to: StaffMember | None = None


def is_open_urgent(obj) -> bool:
    """``obj`` is a self-harm answer the patient gave that nobody has handled yet: reviewing it
    needs a record of the contact (``item_mark_reviewed``)."""
    return (
        isinstance(obj, QuestionnaireResponse)
        and obj.urgent
        and obj.reviewed_at is None
        and obj.entered_by_id is None
    )


def _urgent_contact_check(*, contact: UrgentContact | None, response, reviewer: StaffMember | None) -> None:
    if contact is None:
        raise ValidationError(
            _(
                "A self-harm answer is marked as reviewed only together with a record of how the "
                "patient was contacted, or to whom it was handed over."
            ),
            code="contact_required",
        )
    errors = {}
    if contact.method not in TimelineEvent.ContactMethod.values:
        errors["method"] = _("Choose how you contacted the patient.")
    today = timezone.localdate()
    answered_on = timezone.localdate(response.completed_at)
    if contact.on > today:
        errors["on"] = _("The day of the contact cannot be in the future.")
    elif contact.on < answered_on:
        errors["on"] = _("The day of the contact cannot be before the day of the answer.")
    if contact.method == TimelineEvent.ContactMethod.HANDOVER:
        colleague = contact.handed_to
        if (
            colleague is None
            or colleague.clinic_id != response.clinic_id
            or not colleague.is_therapist
            or not colleague.user.is_active
            or (reviewer is not None and colleague.pk == reviewer.pk)
        ):
            errors["handed_to"] = _("Choose the colleague who took it over.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def item_mark_reviewed(
    *, enrollment: Enrollment, item: ItemRef | str, reviewed_by, contact: UrgentContact | None = None
):
    """Mark an answer, diary entry or questionnaire result as reviewed without writing feedback.
    Safe to repeat: the first review's time and reviewer are kept. Audited as a review of the
    item (not a change: what the patient wrote stays as it was).

    A self-harm answer nobody handled yet (``is_open_urgent``) is reviewed only with ``contact``:
    how and when the patient was contacted, or to whom it was handed over. It goes on the
    patient's timeline in the same transaction; without it nothing changes (ValidationError,
    code ``contact_required``), whoever asks (the therapist or a covering colleague)."""
    patient = enrollment.patient
    side = _staff_side(patient=patient, user=reviewed_by)
    ref = item if isinstance(item, ItemRef) else parse_item_ref(item)
    if ref is None or ref.kind not in REVIEWABLE_KINDS:
        raise ValidationError(
            _("Only assignments, diary entries and questionnaires can be marked as reviewed."),
            code="invalid",
        )
    obj = items_for_enrollment(enrollment=enrollment, refs=[ref]).get(str(ref))
    if obj is None:
        raise ValidationError(_("This item is no longer there."), code="missing")
    self_harm = isinstance(obj, QuestionnaireResponse) and obj.urgent and obj.entered_by_id is None
    if is_open_urgent(obj) or (self_harm and contact is not None):
        _urgent_contact_check(contact=contact, response=obj, reviewer=roles_of(reviewed_by).staff)
        # Under the row's lock: of two colleagues confirming at once, one marks it reviewed. Each
        # contact goes on the timeline, also one made after a colleague's review (two people
        # called the patient: both calls are part of the record).
        locked = type(obj).objects.select_for_update().filter(pk=obj.pk, reviewed_at__isnull=True)
        if not locked.exists():
            obj.refresh_from_db(fields=["reviewed_at", "reviewed_by"])
        handover = contact.method == TimelineEvent.ContactMethod.HANDOVER
        patient_services.timeline_record(
            patient_id=patient.pk,
            enrollment=enrollment,
            kind=TimelineEvent.Kind.URGENT_CONTACT,
            actor_id=reviewed_by.pk,
            detail={
                "response": obj.pk,
                "code": obj.code,
                "method": contact.method,
                "on": contact.on.isoformat(),
                "to": contact.handed_to.pk if handover and contact.handed_to else None,
            },
        )
    if obj.reviewed_at is None:
        obj.reviewed_at, obj.reviewed_by = timezone.now(), reviewed_by
        patient_services.items_mark_reviewed(
            model=type(obj), enrollment=enrollment, ids=[obj.pk], reviewed_by=reviewed_by, at=obj.reviewed_at
        )
        work_items.refresh(enrollment=enrollment, kinds=work_items.REVIEW_KINDS)
    _audit(
        side=side,
        user=reviewed_by,
        action=Action.REVIEW,
        patient=patient,
        object_type=AUDIT_OBJECT_TYPES[ref.kind],
        object_id=obj.pk,
    )
    return obj


# --- Templates ------------------------------------------------------------------------------------


def _template_check(*, staff: StaffMember, clinic_wide: bool) -> None:
    if clinic_wide and not staff.is_clinic_admin:
        raise PermissionDenied
    if not clinic_wide and not staff.is_therapist:
        raise PermissionDenied


@transaction.atomic
def template_create(
    *,
    staff: StaffMember,
    title: str,
    body: str,
    is_snippet: bool = False,
    clinic_wide: bool = False,
) -> FeedbackTemplate:
    """A personal template of a therapist, or (``clinic_wide``, clinic admins only) one for the
    whole clinic. Placeholders other than {first_name} and {therapist_name} are refused."""
    _template_check(staff=staff, clinic_wide=clinic_wide)
    placeholders_validate(body)
    template = FeedbackTemplate(
        clinic_id=staff.clinic_id,
        owner=None if clinic_wide else staff,
        title=title,
        body=body,
        is_snippet=is_snippet,
    )
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def template_update(
    *,
    template: FeedbackTemplate,
    staff: StaffMember,
    title: str,
    body: str,
    is_snippet: bool = False,
) -> FeedbackTemplate:
    if not template_may_edit(staff, template):
        raise PermissionDenied
    placeholders_validate(body)
    template.title, template.body, template.is_snippet = title, body, is_snippet
    template.full_clean()
    template.save(update_fields=["title", "body", "is_snippet"])
    return template


@transaction.atomic
def template_delete(*, template: FeedbackTemplate, staff: StaffMember) -> None:
    """Delete a template. A clinic's copy of a program's starter is hidden instead, so that the
    next :func:`template_starters_provide` does not hand the clinic a fresh copy."""
    if not template_may_edit(staff, template):
        raise PermissionDenied
    if template.starter_id is not None:
        template.hidden = True
        template.save(update_fields=["hidden"])
        return
    template.delete()


@transaction.atomic
def template_starters_provide(*, clinic_id: int) -> int:
    """Give the clinic its own copy of every starter feedback template the programs ship that it
    has no copy of yet (clinic-wide, so the clinic admin can edit them), and bring copies nobody
    edited up to date with their starter. Edited and hidden (deleted) copies are never touched.
    Safe to run twice at once: the unique constraint on clinic and starter drops a second insert.
    Returns how many copies were made or updated."""
    missing = list(starters_not_copied(clinic_id).order_by("program_id", "language", "position"))
    copies = [
        FeedbackTemplate(
            clinic_id=clinic_id,
            owner=None,
            starter=starter,
            title=starter.title,
            body=starter.body,
            is_snippet=starter.is_snippet,
            starter_title=starter.title,
            starter_body=starter.body,
        )
        for starter in missing
    ]
    if copies:
        FeedbackTemplate.objects.bulk_create(copies, ignore_conflicts=True)
    outdated = list(
        starter_copies_outdated(clinic_id).select_related("starter").select_for_update(of=("self",))
    )
    for copy in outdated:
        starter = copy.starter
        copy.title = copy.starter_title = starter.title
        copy.body = copy.starter_body = starter.body
        copy.is_snippet = starter.is_snippet
        copy.save(update_fields=["title", "body", "is_snippet", "starter_title", "starter_body"])
    return len(copies) + len(outdated)


def template_render(*, template: FeedbackTemplate | str, patient: Patient, author) -> str:
    """The template's text with {first_name} (the patient's first name) and {therapist_name}
    (the person writing, who signs the message) filled in. Plain replacement, never
    ``str.format``: braces in a template cannot reach attributes of anything."""
    text = template.body if isinstance(template, FeedbackTemplate) else template
    values = {"first_name": patient.user.first_name or "", "therapist_name": author.get_full_name()}
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# --- Internal notes ---------------------------------------------------------------------------------


@sensitive_variables()
@transaction.atomic
def note_add(*, patient: Patient, author: StaffMember, body: str) -> StaffNote:
    """An internal note about the patient, encrypted, for the staff who treat them (and cover)."""
    side = _staff_side(patient=patient, user=author.user)
    body = text_validate(body, max_length=NOTE_MAX_LENGTH, empty_message=_("Write the note first."))
    note = StaffNote(patient=patient, clinic_id=patient.clinic_id, author=author, body=body)
    note.full_clean()
    note.save()
    _audit(
        side=side,
        user=author.user,
        action=Action.CREATE,
        patient=patient,
        object_type="staff_note",
        object_id=note.pk,
    )
    return note
