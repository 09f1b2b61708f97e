from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.exports import KINDS, ExportRequest, Filters, stream_export
from catalog.models import Asset
from orgs.models import Organization
from orgs.permissions import Action
from orgs.services import record


class Command(BaseCommand):
    help = ("Export an organization's lineage records, raw events, catalog tables, or an asset's evidence pack, as "
            "a zip with a manifest (verify it with tools/verify_export.py). Audited.")

    def add_arguments(self, parser):
        parser.add_argument("org")
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--out", required=True, type=Path, help="Zip file to write")
        parser.add_argument("--format", dest="fmt", choices=["csv", "jsonl"], default="csv", help="lineage records format")
        parser.add_argument("--asset", type=int, help="Asset id (evidence packs; filter for lineage records)")
        parser.add_argument("--cloud", type=int)
        parser.add_argument("--project", type=int)
        parser.add_argument("--workload", type=int)
        parser.add_argument("--created-by", default="")
        parser.add_argument("--since", type=datetime.fromisoformat)
        parser.add_argument("--until", type=datetime.fromisoformat)

    def handle(self, org, kind, out, fmt, asset, cloud, project, workload, created_by, since, until, **options):
        try:
            organization = Organization.objects.get(slug=org)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization {org!r}") from None
        subject = None
        if kind == "evidence":
            subject = Asset.objects.in_org(organization).filter(pk=asset).first() if asset else None
            if subject is None:
                raise CommandError("an evidence pack needs --asset with the id of one of the organization's assets")
        filters = Filters(cloud=cloud, project=project, created_by=created_by, asset=asset if kind != "evidence" else None,
                          workload=workload, since=since, until=until)
        req = ExportRequest(org=organization, kind=kind, actor_label="manage.py export_lineage", filters=filters,
                            fmt=fmt, asset=subject)
        record(org=organization, actor="manage.py export_lineage", action=Action.EXPORT, target_type="export",
               target_id=req.export_id, target_label=kind, after={"filters": filters.as_dict(), "format": fmt,
                                                                  **({"asset": subject.uri} if subject else {})})
        size = 0
        with out.open("wb") as handle:
            for chunk in stream_export(req):
                handle.write(chunk)
                size += len(chunk)
        self.stdout.write(f"wrote {out} ({size} bytes, export {req.export_id})")
