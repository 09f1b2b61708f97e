"""The graph ranks an asset's neighbours most recently seen first and shows 25: an index in that
order (with what the walk and the neighbour counts read in INCLUDE) serves it without sorting a
hub's thousands of edges. It replaces (asset, direction, workload), whose uses it covers."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0005_drop_superseded_creator_indexes'),
        ('orgs', '0003_auditentry_actor_protect'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='workloadasset',
            index=models.Index(fields=['asset', 'direction', '-last_seen_at', '-id'],
                               include=('org', 'workload', 'first_seen_at'), name='workloadasset_asset_recent'),
        ),
        migrations.RemoveIndex(
            model_name='workloadasset',
            name='workloadasset_asset_dir',
        ),
    ]
