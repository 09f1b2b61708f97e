"""Several workers normalizing one organization at once build the catalog one worker would.

Each batch holds its organization's catalog lock while it reads, merges and writes (see
catalog.normalize); without it, two batches would both insert the same new asset, or both merge
into the same stored row and one would overwrite the other's facts."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from bench.generator import events
from ingest.models import RawEvent, RawStatus
from ingest.pipeline import normalize_raw_events
from tests.catalog_snapshot import snapshot
from tests.ingest.test_pipeline import store_pending


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@override_settings(LINEAGE_NORMALIZE_BATCH=20)
def test_concurrent_workers_build_the_catalog_one_worker_would(tenant):
    start = timezone.now() - timedelta(days=2)
    history = list(events(600, seed=5, pipelines=6, hubs=3, start=start, project_prefix="prj_acme"))
    ids = store_pending(tenant, history)
    assert len(set(ids)) == len(history)

    # Three workers, each asked for an overlapping random half of the events, in its own order.
    rng = random.Random(7)
    shares = [rng.sample(ids, len(ids) // 2) for _ in range(3)]
    shares[0] += ids  # and one of them is asked for everything, so nothing is left out
    errors: list[BaseException] = []

    def work(share):
        try:
            normalize_raw_events(share)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors
    assert set(RawEvent.objects.filter(org=tenant.org).values_list("status", flat=True)) == {RawStatus.PROCESSED}
    together = snapshot(tenant.org)

    call_command("rebuild_catalog", tenant.org.slug)  # one worker, in order
    alone = snapshot(tenant.org)
    assert len(together["assets"]) > 50 and len(together["run_edges"]) > 300
    assert together == alone

