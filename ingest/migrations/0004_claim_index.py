from django.db import migrations, models


def tune_autovacuum(apps, schema_editor):
    """Raw events are written three times (ingest, normalized, sealed): vacuum them after 2% of the
    table changed rather than PostgreSQL's default 20%, so dead versions and dead entries of the
    pending indexes do not pile up between vacuums of a large table."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE ingest_rawevent SET (autovacuum_vacuum_scale_factor = 0.02, "
                              "autovacuum_analyze_scale_factor = 0.02)")


def reset_autovacuum(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE ingest_rawevent RESET (autovacuum_vacuum_scale_factor, "
                              "autovacuum_analyze_scale_factor)")


class Migration(migrations.Migration):

    dependencies = [
        ("ingest", "0003_retention"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="rawevent",
            index=models.Index(condition=models.Q(("status", "pending")), fields=["id"], name="rawevent_pending_id"),
        ),
        migrations.RunPython(tune_autovacuum, reset_autovacuum),
    ]
