"""`manage.py generate_catalog`: a large synthetic catalog for measuring list pages and graph queries.

Rows go straight into the catalog tables (no events, no normalizer; see bench.catalog for the shape).
`--measure` then times pages, API calls and graph walks through the test client, as a signed-in
member, and prints EXPLAIN ANALYZE for the key queries. `manage.py bench graph|pages` measures the
same catalog against its goals.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lineage_cat_bench \\
        manage.py generate_catalog --assets 200000 --workloads 50000 --measure
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from bench import catalog
from orgs.models import Organization
from orgs.services import create_org


class Command(BaseCommand):
    help = "Bulk-create a large synthetic catalog for one org, and optionally measure the read side."

    def add_arguments(self, parser):
        default = catalog.Shape()
        parser.add_argument("--org", default="bigco")
        parser.add_argument("--assets", type=int, default=default.assets)
        parser.add_argument("--workloads", type=int, default=default.workloads)
        parser.add_argument("--hubs", type=int, default=default.hubs, help="Datasets each read by --hub-readers workloads.")
        parser.add_argument("--hub-readers", type=int, default=default.hub_readers)
        parser.add_argument("--owners", type=int, default=default.owners)
        parser.add_argument("--seed", type=int, default=default.seed)
        parser.add_argument("--measure", action="store_true", help="Time pages and graph walks afterwards.")
        parser.add_argument("--measure-only", action="store_true", help="Measure an org generated before.")

    def handle(self, *args, **opts):
        if not opts["measure_only"]:
            if Organization.objects.filter(slug=opts["org"]).exists():
                raise CommandError(f"org {opts['org']} exists; pick another --org or use --measure-only")
            shape = catalog.Shape(assets=opts["assets"], workloads=opts["workloads"], hubs=opts["hubs"],
                                  hub_readers=opts["hub_readers"], owners=opts["owners"], seed=opts["seed"])
            self.stdout.write(f"assets: {shape.assets}, workloads: {shape.workloads}")
            org, _ = create_org(slug=opts["org"], name=opts["org"].title(), actor="generate_catalog")
            built = catalog.build(org, shape, log=self.stdout.write)
            self.stdout.write(self.style.SUCCESS(built.describe()))
        if opts["measure"] or opts["measure_only"]:
            catalog.report(Organization.objects.get(slug=opts["org"]), self.stdout.write)
