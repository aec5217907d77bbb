"""Every encrypted row stores its clinic (the scope of its data key): added empty and filled
from the rows' parents here; the next migration makes it required (on PostgreSQL a column
cannot be altered in the transaction that just updated its rows)."""

from functools import partial

import django.db.models.deletion
from django.db import migrations, models

from icbt.models.scoped import backfill_clinic

PARENTS = {
    "Message": ("conversation__enrollment__clinic_id",),
    "MessageDraft": ("conversation__enrollment__clinic_id",),
    "StaffNote": ("patient__clinic_id",),
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
        ("messaging", "0004_tenancy_moved_to_icbt"),
        ("patients", "0017_clinic_on_encrypted_rows"),
    ]

    operations = [
        *(
            migrations.AddField(model_name=name.lower(), name="clinic", field=_field())
            for name in PARENTS
        ),
        *(
            migrations.RunPython(
                partial(backfill_clinic, model=f"messaging.{name}", through=through),
                migrations.RunPython.noop,
            )
            for name, through in PARENTS.items()
        ),
    ]
