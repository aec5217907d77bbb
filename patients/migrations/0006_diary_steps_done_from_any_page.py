"""Diary steps are done once their diary has an entry written after the step was opened, or about
the day it was opened or later (from My diaries too): the rule the diary service now applies on
every entry, applied once to what was written before."""

from django.db import migrations
from django.db.models import Min, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate


def diary_steps_done(apps, schema_editor):
    StepProgress = apps.get_model("patients", "StepProgress")
    DiaryEntry = apps.get_model("patients", "DiaryEntry")
    first_after = (
        DiaryEntry.objects.filter(
            enrollment_id=OuterRef("enrollment_id"),
            diary_type_id=OuterRef("step__diary_type_id"),
        )
        .filter(Q(created_at__gte=OuterRef("first_seen_at")) | Q(entry_date__gte=OuterRef("opened_on")))
        .order_by()
        .values("enrollment_id")
        .annotate(first=Min("created_at"))
        .values("first")[:1]
    )
    rows = (
        StepProgress.objects.filter(completed_at__isnull=True, step__diary_type__isnull=False)
        .annotate(opened_on=TruncDate("first_seen_at"))
        .annotate(done_at=Subquery(first_after))
        .filter(done_at__isnull=False)
    )
    for row in rows:
        StepProgress.objects.filter(pk=row.pk).update(completed_at=max(row.done_at, row.first_seen_at))


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0005_questionnaire_drafts"),
    ]

    operations = [
        migrations.RunPython(diary_steps_done, migrations.RunPython.noop),
    ]
