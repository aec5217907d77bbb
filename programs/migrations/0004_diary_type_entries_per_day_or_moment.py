"""Diary types declare how many entries a day holds (one, or one per moment), and a time field
may be declared ``not_before`` another (getting up is not before waking up).

The relaxation log and the thoughts diary of Master your Pain are kept after each exercise or
moment: versions loaded before the declaration existed get it here, so that patients already
enrolled on them stop losing an earlier entry of the day. Published content is otherwise
immutable (0002): the trigger is set aside for this one update only. On SQLite, adding the column
rebuilds the table and drops its trigger, which is then created again.
"""

from importlib import import_module

from django.db import migrations, models

immutable = import_module("programs.migrations.0002_published_content_immutable")

PER_MOMENT = {"master-your-pain": ("relaxation", "thoughts")}
NOT_BEFORE = {("master-your-fatigue", "sleep-wake"): {"got_up_time": "woke_time"}}


def declare_per_moment(apps, schema_editor):
    DiaryType = apps.get_model("programs", "DiaryType")
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("ALTER TABLE programs_diarytype DISABLE TRIGGER programs_diarytype_immutable")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS programs_diarytype_immutable")
    for program, slugs in PER_MOMENT.items():
        DiaryType.objects.filter(version__program__slug=program, slug__in=slugs).update(entries="per_moment")
    for (program, slug), rules in NOT_BEFORE.items():
        for diary in DiaryType.objects.filter(version__program__slug=program, slug=slug):
            fields = [
                {**f, "not_before": rules[f["name"]]} if f.get("name") in rules and f.get("type") == "time" else f
                for f in diary.fields
            ]
            if fields != diary.fields:
                DiaryType.objects.filter(pk=diary.pk).update(fields=fields)
    if vendor == "postgresql":
        schema_editor.execute("ALTER TABLE programs_diarytype ENABLE TRIGGER programs_diarytype_immutable")
    elif vendor == "sqlite":
        immutable.forwards(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0003_licensed_upload"),
    ]

    operations = [
        migrations.AddField(
            model_name="diarytype",
            name="entries",
            field=models.CharField(
                choices=[("one_per_day", "one entry per day"), ("per_moment", "an entry per moment")],
                default="one_per_day",
                max_length=12,
            ),
        ),
        migrations.RunPython(declare_per_moment, migrations.RunPython.noop),
    ]
