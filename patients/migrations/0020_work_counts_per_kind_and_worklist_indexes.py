"""The counters of waiting work per kind (``WorkCount`` keys ``owner:<id>:<kind>`` and
``clinic:<id>:intake_request``, refilled from the open work items), and the work-item indexes
of the worklist: its page in order with LIMIT, its patient filter by age, its counts of the
rhythm's kinds."""

from django.db import migrations, models

COUNTED_KINDS = ("message", "answer", "diary", "questionnaire", "intake_request", "referral")


def refill(apps, schema_editor):
    WorkItem = apps.get_model("patients", "WorkItem")
    WorkCount = apps.get_model("patients", "WorkCount")
    WorkCount.objects.all().delete()
    rows = (
        WorkItem.objects.filter(state="open", kind__in=COUNTED_KINDS)
        .values_list("kind", "clinic_id", "owner_id")
        .annotate(n=models.Count("pk"))
        .order_by()
    )
    counts = []
    for kind, clinic_id, owner_id, n in rows:
        if kind == "intake_request":
            key = f"clinic:{clinic_id}:{kind}"
        elif owner_id is not None:
            key = f"owner:{owner_id}:{kind}"
        else:
            continue
        counts.append(WorkCount(key=key, clinic_id=clinic_id, n=n))
    WorkCount.objects.bulk_create(counts)


def refill_per_owner(apps, schema_editor):
    """Back to one counter per owner and per clinic (migration 0019's keys)."""
    WorkCount = apps.get_model("patients", "WorkCount")
    totals: dict[str, list] = {}
    for key, clinic_id, n in WorkCount.objects.values_list("key", "clinic_id", "n"):
        totals.setdefault(key.rsplit(":", 1)[0], [clinic_id, 0])[1] += n
    WorkCount.objects.all().delete()
    WorkCount.objects.bulk_create(
        [WorkCount(key=key, clinic_id=clinic_id, n=n) for key, (clinic_id, n) in totals.items()]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0019_work_counts"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="workitem",
            name="work_item_owner_due",
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["owner", "urgent", "since", "id"],
                name="work_item_owner_order",
            ),
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["owner", "since", "patient"],
                name="work_item_owner_since",
            ),
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                condition=models.Q(("state", "open")),
                fields=["owner", "kind", "due"],
                name="work_item_owner_kind",
            ),
        ),
        migrations.RunPython(refill, refill_per_owner),
    ]
