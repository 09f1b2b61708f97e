"""Name search indexes lead with the organization: a search reads its own organization's matches,
not every organization's (PostgreSQL).

The trigram indexes of 0003 held every organization's rows under each trigram, and a search read
the posting lists of its pattern's trigrams whole, then dropped the other organizations' entries: a
221-model organization's search for `m-01` read 305,841 entries (25 ms) because three others had
200,000 assets each, and a large organization's search slowed with each one added. These GIN
indexes hold a scope key beside the trigrams (btree_gin), so one index scan intersects the two: the
organization and, for assets, the kind (`'<org id>:<kind>'`: every asset list is of one kind), or
the organization alone for workloads. That search now reads none of the others' entries.

The key is an expression, not the `org_id` column, so that the index serves only the searches that
name it (catalog.filters.search_scope): with `org_id` itself in a GIN index PostgreSQL took it for
plain organization lists too, where it is slower than the btree indexes (a workloads page's count:
2.5 ms against 1.1).

btree_gin and pg_trgm are trusted extensions (PostgreSQL 13+): the migrating role needs CREATE on
the database. Other backends get nothing here, as in 0003.
"""

from django.db import migrations

INDEXES = (  # (new, old, table, scope key, searched column): the key as catalog.filters.search_scope writes it
    ("asset_scope_uri_trgm", "catalog_asset_uri_trgm", "catalog_asset", "(org_id)::text || ':' || (kind)::text", "uri"),
    ("workload_scope_name_trgm", "catalog_workload_name_trgm", "catalog_workload", "(org_id)::text", "name"),
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    for new, old, table, key, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{new}" ON "{table}" USING gin (({key}), (UPPER("{column}"::text)) gin_trgm_ops)'
        )
        schema_editor.execute(f'DROP INDEX IF EXISTS "{old}"')
    for _, _, table, _, _ in INDEXES:
        schema_editor.execute(f'ANALYZE "{table}"')  # statistics of the key expression, for the planner


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for new, old, table, _, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{old}" ON "{table}" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )
        schema_editor.execute(f'DROP INDEX IF EXISTS "{new}"')


class Migration(migrations.Migration):
    dependencies = [("catalog", "0017_node_degree_counts")]

    operations = [migrations.RunPython(forwards, backwards)]
