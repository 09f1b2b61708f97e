"""The reference the ingest benchmark compares against: a bare DRF view that does one INSERT of the
request body per request, on the same server settings (mounted only when LINEAGE_BENCH_VIEWS=1)."""

from __future__ import annotations

from django.db import connection
from rest_framework.decorators import api_view, authentication_classes, parser_classes, permission_classes
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

TABLE = "bench_reference_event"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, body jsonb NOT NULL)"


class _Raw(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


@api_view(["POST"])
@authentication_classes([])
@permission_classes([])
@parser_classes([_Raw])
def reference_insert(request):
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (body) VALUES (%s)", [request.data.decode()])  # noqa: S608
    return Response({"status": "ok"}, status=201)
