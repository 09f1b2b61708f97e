"""The edge tables lose the index of their asset column: `runasset_asset_dir` and
`workloadasset_asset_recent` lead with the asset and serve every lookup it served, while each edge
written (an event's ~3 run edges, the widened workload edges: a non-heap-only update, last seen
being indexed) paid one more index entry. 0013 did the same for the other foreign keys a composite
index leads.

Only the indexes are dropped; the foreign keys stay as they are. Django's AlterField would drop
and re-add each constraint, which validates it against the whole table under a lock the normalizer
waits on: on PostgreSQL the index is dropped CONCURRENTLY instead (so the migration is not atomic),
and the model state changes alone.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "catalog_runasset": "catalog_runasset_asset_id_2a4ca4bf",
    "catalog_workloadasset": "catalog_workloadasset_asset_id_b0fffef3",
}


def _concurrently(schema_editor) -> str:
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def drop(apps, schema_editor):
    for index in INDEXES.values():
        schema_editor.execute(f'DROP INDEX{_concurrently(schema_editor)} IF EXISTS "{index}"')


def create(apps, schema_editor):
    for table, index in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX{_concurrently(schema_editor)} IF NOT EXISTS "{index}" ON "{table}" ("asset_id")')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('catalog', '0019_walk_in_one_statement'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='runasset',
                    name='asset',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='run_edges', to='catalog.asset'),
                ),
                migrations.AlterField(
                    model_name='workloadasset',
                    name='asset',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='workload_edges', to='catalog.asset'),
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]
