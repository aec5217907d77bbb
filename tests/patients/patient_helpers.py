"""Helpers for the tests of the patient's side: the tiny fixture program, an enrollment on it,
and feedback written about an item."""

from django.utils import timezone

from patients.models import Enrollment
from programs.models import ProgramVersion, Step
from tests.programs.helpers import load_tiny
from tests.work import settle


def tiny_version() -> ProgramVersion:
    """The tiny fixture program (English), loaded once per test database."""
    version = (
        ProgramVersion.objects.filter(program__slug="tiny-program", language="en").order_by("-number").first()
    )
    return version or load_tiny()


def enroll(patient, version=None, **fields) -> Enrollment:
    defaults = {
        "clinic": patient.clinic,
        "therapist": patient.therapist,
        "start_date": timezone.localdate(),
        "status": Enrollment.Status.ACTIVE,
    }
    defaults.update(fields)
    enrollment = Enrollment.objects.create(patient=patient, version=version or tiny_version(), **defaults)
    settle()
    return enrollment


def step_of(version, slug) -> Step:
    return Step.objects.select_related("module", "diary_type", "version__program").get(
        version=version, slug=slug
    )


def write_feedback(enrollment, *, author, body="Well done!", **target):
    """A feedback message about one item (answer=..., diary_entry=..., questionnaire=...)."""
    from messaging.models import Conversation, FeedbackLink, Message

    conversation, _ = Conversation.objects.get_or_create(enrollment=enrollment)
    message = Message(
        clinic_id=conversation.enrollment.clinic_id,
        conversation=conversation,
        author=author,
        body=body,
        is_feedback=True,
    )
    message.save()
    FeedbackLink.objects.create(message=message, **target)
    settle()
    return message
