"""The normalizer's writes: fewer indexes, and room for updates in place.

- Foreign keys that lead a composite index (org on assets, jobs, runs and workloads; a run's
  workload; an edge's run or workload; a schema version's asset) lose their own index: every new
  row version paid a write into it, and the composite serves the same lookups.
- Assets, workloads and runs are rewritten whenever an event touches them (last seen, merged
  facts), seldom in an indexed column (a workload's status, a late first sighting). With pages kept 20% free
  (fillfactor 80) PostgreSQL can make those updates heap-only (HOT): no new index entries at all.
  The setting applies to pages written from now on. PostgreSQL only.
"""

import django.db.models.deletion
from django.db import migrations, models


TABLES = ("catalog_asset", "catalog_workload", "catalog_run")


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f'ALTER TABLE "{table}" SET (fillfactor = 80)')


def fill_up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f'ALTER TABLE "{table}" RESET (fillfactor)')


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0011_lineage_graph_function'),
        ('orgs', '0003_auditentry_actor_protect'),
    ]

    operations = [
        migrations.AlterField(
            model_name='asset',
            name='org',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='assets', to='orgs.organization'),
        ),
        migrations.AlterField(
            model_name='job',
            name='org',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='orgs.organization'),
        ),
        migrations.AlterField(
            model_name='run',
            name='org',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='orgs.organization'),
        ),
        migrations.AlterField(
            model_name='run',
            name='workload',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='catalog.workload'),
        ),
        migrations.AlterField(
            model_name='runasset',
            name='run',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='asset_edges', to='catalog.run'),
        ),
        migrations.AlterField(
            model_name='schemaversion',
            name='asset',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='schema_versions', to='catalog.asset'),
        ),
        migrations.AlterField(
            model_name='workload',
            name='org',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='workloads', to='orgs.organization'),
        ),
        migrations.AlterField(
            model_name='workloadasset',
            name='workload',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='asset_edges', to='catalog.workload'),
        ),
        migrations.RunPython(leave_room, fill_up),
    ]
