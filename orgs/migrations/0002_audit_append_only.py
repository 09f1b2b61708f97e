"""On PostgreSQL, refuse UPDATE and DELETE on the audit table, so not even raw SQL rewrites history.

TRUNCATE (table-owner only, and what the test suite uses to reset the database) is left to the
database's privilege system: the application's role should not own the table in production.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION orgs_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER orgs_auditentry_no_update_delete
    BEFORE UPDATE OR DELETE ON orgs_auditentry
    FOR EACH ROW EXECUTE FUNCTION orgs_auditentry_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS orgs_auditentry_no_update_delete ON orgs_auditentry;
DROP FUNCTION IF EXISTS orgs_auditentry_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
