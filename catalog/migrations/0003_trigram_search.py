"""Name search (`icontains`) on PostgreSQL: trigram GIN indexes, so `q=` does not scan an org's rows.

Django compiles `icontains` to `UPPER(col::text) LIKE UPPER(%s)`, so the indexes are on UPPER(col).
pg_trgm is a trusted extension (PostgreSQL 13+): the migrating role needs CREATE on the database.
Other backends (SQLite in development) get nothing here and search by scanning.
"""

from django.db import migrations

INDEXES = (
    ("catalog_asset_uri_trgm", "catalog_asset", "uri"),
    ("catalog_workload_name_trgm", "catalog_workload", "name"),
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_list_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
