"""Parked raw events by organization (`manage.py pipeline parked|retry|status`).

Parked events are few, so a partial index keeps them findable without reading the raw event table,
the largest one. On PostgreSQL it is built CONCURRENTLY (so not in a transaction): ingest goes on
writing to the table while the index is built.
"""

from django.db import migrations, models

INDEX = models.Index(fields=["org", "id"], name="rawevent_parked", condition=models.Q(status="parked"))


def forwards(apps, schema_editor):
    model = apps.get_model("ingest", "RawEvent")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(model, INDEX, concurrently=True)
    else:
        schema_editor.add_index(model, INDEX)


def backwards(apps, schema_editor):
    model = apps.get_model("ingest", "RawEvent")
    schema_editor.remove_index(model, INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("ingest", "0007_claim_function")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="rawevent", index=INDEX)],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
