"""A diary day on the tiny program at a fixed date (ISO week 49 of 2026), for the composer and
worklist tests."""

import json
from datetime import date

from patients.models import DiaryEntry
from programs.models import DiaryType
from tests.work import settle

MONDAY_49 = date(2026, 11, 30)  # ISO week 49 of 2026: Monday 30 November to Sunday 6 December


def diary_day(enrollment, day, minutes=60):
    entry = DiaryEntry(
        clinic_id=enrollment.clinic_id,
        enrollment=enrollment,
        diary_type=DiaryType.objects.get(version=enrollment.version, slug="mood"),
        entry_date=day,
        values={"mood": 6, "bedtime": "22:30", "walked": True, "minutes": minutes, "kind": "free"},
        text=json.dumps({"note": f"Walked with the dog on {day.isoformat()}"}),
    )
    entry.save()
    settle()
    return entry
