"""Lists filtered by a cloud or a project read that cloud's or project's own range of an index.

The order index (org, kind, created_at, id) holds the cloud and project (0010), but a list filtered
by them still read the org's whole range of it, checking each entry: counting one project's 18 830
of 186 008 datasets read all 186 008 (~40 ms), and so did its middle page's keys (~40 ms). These
two indexes, newest first within a cloud or a project, take the place of those foreign keys' own
indexes (their leading column serves the same lookups), so the normalizer writes no more indexes
per asset than before.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0013_normalizer_writes_fewer_indexes'),
        ('clouds', '0001_initial'),
        ('orgs', '0003_auditentry_actor_protect'),
    ]

    operations = [
        migrations.AlterField(
            model_name='asset',
            name='cloud',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='assets', to='clouds.cloud'),
        ),
        migrations.AlterField(
            model_name='asset',
            name='project',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='assets', to='clouds.project'),
        ),
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(fields=['cloud', 'kind', '-created_at', '-id'], include=('org', 'project'), name='asset_cloud_kind_created_cov'),
        ),
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(fields=['project', 'kind', '-created_at', '-id'], include=('org', 'cloud'), name='asset_project_kind_created_cov'),
        ),
    ]
