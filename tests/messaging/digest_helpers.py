"""Builders for the notification and digest tests: an enrolled patient, a moving clock, and
reading e-mails back."""

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import mail
from django.utils import timezone

from icbt.models import NotificationPreference
from patients.models import Enrollment
from programs.models import ProgramVersion
from tests.work import settle

AMS = ZoneInfo("Europe/Amsterdam")
URL_RE = re.compile(r"https?://[^\s<>\"]+")


def local(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMS)


def enroll(
    patient, version: ProgramVersion, *, status=Enrollment.Status.ACTIVE, start=date(2026, 2, 23), **extra
) -> Enrollment:
    started = datetime(start.year, start.month, start.day, 9, tzinfo=AMS)
    enrollment = Enrollment.objects.create(
        patient=patient,
        clinic_id=patient.clinic_id,
        version=version,
        therapist=patient.therapist,
        status=status,
        start_date=start,
        started_at=started if status != Enrollment.Status.INVITED else None,
        last_activity_at=started,
        **extra,
    )
    settle()
    return enrollment


def prefer(user, **fields) -> NotificationPreference:
    preference, _created = NotificationPreference.objects.update_or_create(user=user, defaults=fields)
    return preference


class Clock:
    """Replaces django.utils.timezone.now (services read it at call time)."""

    def __init__(self, monkeypatch, start: datetime):
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return moment


def outbox_for(email: str):
    return [m for m in mail.outbox if email in m.to]


def links(message) -> list[str]:
    return [url for url in URL_RE.findall(message.body) if url.startswith(settings.SITE_URL)]


class Treated:
    """World plus the tiny program: patient A and B of ``world.therapist`` in treatment."""

    def __init__(self, world):
        from programs.models import DiaryType, Step
        from tests.programs.helpers import load_tiny

        self.world = world
        self.version = load_tiny()
        self.enrollment_a = enroll(world.patient_a, self.version)
        self.enrollment_b = enroll(world.patient_b, self.version)
        self.mood = DiaryType.objects.get(version=self.version, slug="mood")
        self.steps = {s.slug: s for s in Step.objects.filter(version=self.version).select_related("module")}

    def extra_diaries(self):
        """Two more diary types, so a patient can write three entries on one day (R8)."""
        from programs.models import DiaryType

        fields = [
            {"name": "score", "type": "number", "min": 0, "max": 10, "label": "Score"},
            {"name": "note", "type": "long_text", "label": "Note", "required": False},
        ]
        return [self.mood] + [
            DiaryType.objects.create(
                version=self.version, slug=slug, title=slug.title(), frequency="daily", fields=fields
            )
            for slug in ("sleep", "activity")
        ]


def conversation(enrollment):
    from messaging.services import conversation_get_or_create

    return conversation_get_or_create(enrollment=enrollment)


PHQ9_SELF_HARM = {str(n): (1 if n == 9 else 0) for n in range(1, 10)}
PHQ9_CALM = {str(n): 0 for n in range(1, 10)}
