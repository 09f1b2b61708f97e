"""Personal API tokens created before 0004 (DRF's `rest_framework.authtoken`, which stored each token
in clear) become hashed ApiToken rows: they keep working, and DRF's table, the last copy of them in
clear, is dropped. Nothing to do on a database that never had DRF's tokens."""

import hashlib

from django.db import migrations

LEGACY_TABLE = "authtoken_token"


def import_legacy_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("orgs", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {LEGACY_TABLE}")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        token = ApiToken.objects.create(user_id=user_id, prefix=key[:6], token_hash=hashlib.sha256(key.encode()).hexdigest())
        ApiToken.objects.filter(pk=token.pk).update(created_at=created)  # when it was made, not imported
    schema_editor.execute(f"DROP TABLE {LEGACY_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("orgs", "0004_api_token")]

    # Not reversible: the tokens in clear are gone, which is the point.
    operations = [migrations.RunPython(import_legacy_tokens)]
