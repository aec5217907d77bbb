"""Every encrypted row stores its clinic (the scope of its data key): added empty and filled
from the rows' parents here; the next migration makes it required (on PostgreSQL a column
cannot be altered in the transaction that just updated its rows)."""

from functools import partial

import django.db.models.deletion
from django.db import migrations, models

from icbt.models.scoped import backfill_clinic

PARENTS = {
    "Intake": ("patient__clinic_id",),
    "AssignmentAnswer": ("enrollment__clinic_id",),
    "DiaryEntry": ("enrollment__clinic_id",),
    "QuestionnaireResponse": ("enrollment__clinic_id",),
    "QuestionnaireDraft": ("enrollment__clinic_id",),
    "TreatmentSession": ("patient__clinic_id",),
    "SteppedCareDecision": ("enrollment__clinic_id",),
    "TimelineEvent": ("enrollment__clinic_id", "patient__clinic_id"),
    "EarlyWarningDecision": ("enrollment__clinic_id",),
}


def _field():
    return models.ForeignKey(
        null=True,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="icbt.clinic",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0016_work_items"),
        ("icbt", "0010_tenancy"),
    ]

    operations = [
        *(
            migrations.AddField(model_name=name.lower(), name="clinic", field=_field())
            for name in PARENTS
        ),
        *(
            migrations.RunPython(
                partial(backfill_clinic, model=f"patients.{name}", through=through),
                migrations.RunPython.noop,
            )
            for name, through in PARENTS.items()
        ),
    ]
