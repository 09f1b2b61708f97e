"""The type filter's index ends with the id and holds the cloud and project, as "created by" (0015).

A deep page of "type CSV" (26 477 of 186 008 datasets) walked this index in order and visited the
table for each row's id (~20 ms warm, ~80 ms when the table is not in shared buffers); now it walks
the index alone. A few-row list of one type (all 14 000 models are "Model") reads its keys
index-only too (catalog.pagination).
"""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0015_creator_index_ends_with_id'),
        ('clouds', '0001_initial'),
        ('orgs', '0003_auditentry_actor_protect'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='asset',
            name='asset_org_kind_type_cov',
        ),
        migrations.AddIndex(
            model_name='asset',
            index=models.Index(models.F('org'), models.F('kind'), django.db.models.functions.text.Upper('dataset_type'), models.OrderBy(models.F('created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), include=('dataset_type', 'cloud', 'project'), name='asset_org_kind_type_id_cov'),
        ),
    ]
