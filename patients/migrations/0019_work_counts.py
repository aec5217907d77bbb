"""The counters of waiting work per owner and per clinic (``WorkCount``), filled from the open
work items of the kinds the navigation counts."""

import django.db.models.deletion
from django.db import migrations, models

COUNTED_KINDS = ("message", "answer", "diary", "questionnaire", "intake_request", "referral")


def fill(apps, schema_editor):
    WorkItem = apps.get_model("patients", "WorkItem")
    WorkCount = apps.get_model("patients", "WorkCount")
    counts: dict[str, list] = {}
    rows = (
        WorkItem.objects.filter(state="open", kind__in=COUNTED_KINDS)
        .values_list("kind", "clinic_id", "owner_id")
        .annotate(n=models.Count("pk"))
        .order_by()
    )
    for kind, clinic_id, owner_id, n in rows:
        if kind == "intake_request":
            key = f"clinic:{clinic_id}"
        elif owner_id is not None:
            key = f"owner:{owner_id}"
        else:
            continue
        counts.setdefault(key, [clinic_id, 0])[1] += n
    WorkCount.objects.bulk_create(
        [WorkCount(key=key, clinic_id=clinic_id, n=n) for key, (clinic_id, n) in counts.items()]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("icbt", "0011_clinic_identity"),
        ("patients", "0018_clinic_required"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=32, unique=True)),
                ("n", models.IntegerField(default=0)),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="icbt.clinic"
                    ),
                ),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
