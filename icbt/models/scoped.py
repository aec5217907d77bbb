from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce


class ClinicScoped(models.Model):
    """A row of one clinic's clinical data, encrypted with that clinic's data key.

    The clinic is stored on the row itself (set by the service that creates it, from the parent it
    belongs to), so encrypting a value never has to load a parent object, and a row keeps its data
    key even when it is read without its enrollment or patient.
    """

    clinic = models.ForeignKey("icbt.Clinic", on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True

    def clean_fields(self, exclude=None):
        """The clinic is copied from the parent row, never typed in: checking that it exists
        would only cost a query per ``full_clean()``."""
        super().clean_fields(exclude={*(exclude or ()), "clinic"})


def backfill_clinic(apps, schema_editor, *, model: str, through: tuple[str, ...]) -> None:
    """Data migration helper: fill the empty ``clinic_id`` of existing rows of ``model``
    (``"app_label.ModelName"``) from their parents. ``through`` lists lookups of the clinic id,
    tried in order (e.g. ``("enrollment__clinic_id", "patient__clinic_id")`` for a row whose
    enrollment may be empty). One UPDATE with a correlated subquery, on SQLite and PostgreSQL alike.
    """
    Model = apps.get_model(*model.split("."))
    rows = Model._default_manager.using(schema_editor.connection.alias)
    found = [Subquery(rows.filter(pk=OuterRef("pk")).values(path)[:1]) for path in through]
    clinic = Coalesce(*found) if len(found) > 1 else found[0]
    rows.filter(clinic__isnull=True).update(clinic_id=clinic)
