"""The audit trail becomes a hash chain per clinic, sealed by the database (see icbt.audit_chain).

Existing events are numbered and hashed in the order they were written (by id), each clinic on its
own chain, and the chain heads are written; then the trigger that seals every new row is created.
On PostgreSQL the append-only trigger is switched off for the length of this one transaction so
the new columns of existing rows can be filled in (only the table owner can do that, which is who
runs migrations).
"""

import django.db.models.functions.datetime
from django.db import migrations, models

from icbt import audit_chain


def seal_existing(apps, schema_editor):
    AuditEvent = apps.get_model("icbt", "AuditEvent")
    AuditChainHead = apps.get_model("icbt", "AuditChainHead")
    connection = schema_editor.connection
    alias = connection.alias
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    postgres = connection.vendor == "postgresql"
    heads = {}
    columns = ("id", "clinic_id", *audit_chain.HASHED_FIELDS)
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER icbt_auditevent_append_only")
        rows = AuditEvent.objects.using(alias).order_by("id").values_list(*columns)
        for event_id, clinic_id, *rest in rows.iterator(chunk_size=2000):
            values = dict(zip(audit_chain.HASHED_FIELDS, rest, strict=True))
            chain = clinic_id or 0
            seq, previous = heads.get(chain, (0, ""))
            seq += 1
            digest = audit_chain.event_hash(chain_seq=seq, prev_hash=previous, values=values)
            cursor.execute(
                f"UPDATE {table} SET chain_seq = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [seq, previous, digest, event_id],
            )
            heads[chain] = (seq, digest)
        if postgres:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER icbt_auditevent_append_only")
    AuditChainHead.objects.using(alias).bulk_create(
        [AuditChainHead(chain=chain, seq=seq, hash=digest) for chain, (seq, digest) in heads.items()]
    )


def install_trigger(apps, schema_editor):
    audit_chain.install(schema_editor)


def uninstall_trigger(apps, schema_editor):
    audit_chain.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("icbt", "0007_remove_foreign_email_addresses"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("chain", models.BigIntegerField(primary_key=True, serialize=False)),
                ("seq", models.BigIntegerField(default=0)),
                ("hash", models.CharField(blank=True, default="", max_length=64)),
            ],
        ),
        migrations.AddField(
            model_name="auditevent",
            name="chain_seq",
            field=models.BigIntegerField(blank=True, db_default=None, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), db_index=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["clinic_id", "chain_seq"], name="icbt_audit_chain_idx"),
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.RunPython(install_trigger, uninstall_trigger),
    ]
