"""The list indexes end with the id, as the lists' orderings do (newest first, then id): a deep page
skips its rows in a subquery that reads only such an index (catalog.pagination). Each replaces the
index without the id; the new ones are built before the old ones go."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0007_lineage_walk_function'),
        ('clouds', '0001_initial'),
        ('orgs', '0003_auditentry_actor_protect'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(fields=['org', 'kind', '-created_at', '-id'], name='asset_org_kind_created_id'),
        ),
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(fields=['org', 'kind', 'name', 'id'], name='asset_org_kind_name_id'),
        ),
        migrations.AddIndex(
            model_name='workload',
            index=models.Index(fields=['org', '-created_at', '-id'], name='workload_org_created_id'),
        ),
        migrations.AddIndex(
            model_name='workload',
            index=models.Index(fields=['org', 'kind', '-created_at', '-id'], name='workload_org_kind_id'),
        ),
        migrations.AddIndex(
            model_name='workload',
            index=models.Index(fields=['org', 'name', 'id'], name='workload_org_name_id'),
        ),
        migrations.RemoveIndex(
            model_name='asset',
            name='asset_org_kind_created',
        ),
        migrations.RemoveIndex(
            model_name='asset',
            name='asset_org_kind_name',
        ),
        migrations.RemoveIndex(
            model_name='workload',
            name='workload_org_created',
        ),
        migrations.RemoveIndex(
            model_name='workload',
            name='workload_org_kind',
        ),
        migrations.RemoveIndex(
            model_name='workload',
            name='workload_org_name',
        ),
    ]
