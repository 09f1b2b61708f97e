"""Deep list pages are read by primary key and from the nearer end (catalog.pagination), and show
exactly the rows plain OFFSET pagination shows: same rows, same order, same "x - y of N"."""

from __future__ import annotations

import itertools
import re

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import catalog as synthetic
from catalog import views
from catalog.pagination import DeepPaginator, held, totally_ordered
from orgs.services import create_org

pytestmark = pytest.mark.django_db


class Shallow(DeepPaginator):
    deep = 20  # the deep path from the fourth page of 7 on


class ShallowLong(Shallow):
    few = 0  # every list long: deep pages walk the ordering index


class ShallowFew(Shallow):
    few = 10_000  # every list few: deep pages sort the matching rows whole


@pytest.fixture
def org():
    org, _ = create_org(slug="pages", name="Pages")
    synthetic.build(org, synthetic.Shape(assets=230, workloads=60, hubs=1, hub_readers=10, owners=4))
    return org


def test_every_page_shows_what_offset_pagination_shows(org):
    datasets, workloads = views._datasets(org), views._workloads(org)
    cloud, project = datasets.values_list("cloud_id", "project_id").first()
    lists = [datasets, datasets.order_by("name", "id"), datasets.order_by("-name", "-id"),
             datasets.order_by("created_at", "id"), datasets.filter(cloud_id=cloud),
             datasets.filter(cloud_id=cloud, project_id=project).order_by("created_at", "id"), views._models(org),
             workloads, workloads.order_by("-name", "-id"), datasets.filter(uri__icontains="0"),
             datasets.filter(uri__icontains="1").order_by("-name", "-id")]
    assert Paginator(datasets, 7).num_pages > 20
    for qs, paginator in itertools.product(lists, (ShallowLong, ShallowFew)):
        plain, deep = Paginator(qs, 7, orphans=2), paginator(qs, 7, orphans=2)
        if deep.estimated:  # a name search with more than `few` matches: the same rows, page after page
            rows = itertools.chain.from_iterable(deep.page(n) for n in range(1, plain.count // 7 + 2))
            assert [r.pk for r in rows] == [r.pk for r in qs], (qs.query.order_by, paginator)
            continue
        assert deep.num_pages == plain.num_pages
        for number in plain.page_range:
            want, got = plain.page(number), deep.page(number)
            assert [r.pk for r in got] == [r.pk for r in want], (qs.query.order_by, number, paginator)
            assert (got.start_index(), got.end_index()) == (want.start_index(), want.end_index())


def test_only_querysets_ending_with_the_primary_key_take_the_deep_path(org):
    datasets = views._datasets(org)
    assert totally_ordered(datasets) and totally_ordered(datasets.order_by("name", "-id"))
    assert not totally_ordered(datasets.order_by("name")) and not totally_ordered(datasets.order_by())
    by_name = datasets.order_by("name")
    assert [r.pk for r in Shallow(by_name, 7).page(5)] == [r.pk for r in Paginator(by_name, 7).page(5)]


def test_a_name_search_is_read_once_for_its_count_and_any_page(org, django_assert_num_queries):
    searched = views._datasets(org).filter(uri__icontains="domain0")
    plain = Paginator(searched, 7)
    want = {n: [r.pk for r in plain.page(n)] for n in (3, plain.num_pages)}
    paginator = DeepPaginator(searched, 7)
    with django_assert_num_queries(2):  # every match's id in order, then the page's rows
        assert paginator.count == plain.count > 7
        assert [r.pk for r in paginator.page(3)] == want[3]
    with django_assert_num_queries(1):
        assert [r.pk for r in paginator.page(plain.num_pages)] == want[plain.num_pages]


def test_a_name_search_with_more_than_few_matches_is_counted_and_paged_as_any_list(org):
    searched = views._datasets(org).filter(uri__icontains="table_")
    plain, paginator = Paginator(searched, 7), ShallowLong(searched, 7)
    assert paginator.estimated == (connection.vendor == "postgresql")  # elsewhere: counted
    assert paginator.estimated or paginator.count == plain.count
    assert [r.pk for r in paginator.page(5)] == [r.pk for r in plain.page(5)]


@pytest.mark.services  # planner settings are PostgreSQL's
def test_bitmap_only_planning_ends_with_its_statement(org):
    list(ShallowFew(views._datasets(org), 7).page(10))  # a few-row deep page: keys read by bitmap
    assert DeepPaginator(views._datasets(org).filter(uri__icontains="domain0"), 7).count > 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_indexscan'), current_setting('enable_seqscan')")
        assert cursor.fetchone() == ("on", "on")


class FewSearched(Shallow):
    few = 30  # a name search with more matches than this is not counted (PostgreSQL)


@pytest.mark.services  # the estimate is PostgreSQL's planner's
def test_a_name_search_with_too_many_matches_has_an_estimated_count_and_the_same_rows(org):
    searched = views._datasets(org).filter(uri__icontains="table_").order_by("-name", "-id")
    plain, paginator = Paginator(searched, 7), FewSearched(searched, 7)
    assert paginator.estimated and paginator.count > FewSearched.few
    assert len(str(paginator.count).rstrip("0")) <= 2  # rounded: it says "about"
    for number in (1, 2, 4, 10, plain.num_pages):  # the shallow and the deep path, up to the real end
        page = paginator.page(number)
        assert [r.pk for r in page] == [r.pk for r in plain.page(number)]
        assert page.start_index() == plain.page(number).start_index()
        assert page.end_index() == plain.page(number).end_index()
    assert not paginator.page(plain.num_pages).has_next()
    assert paginator.page(1).has_next()


def test_a_name_search_with_few_matches_is_counted_exactly(org):
    searched = views._datasets(org).filter(uri__icontains="domain01/")
    paginator = FewSearched(searched, 7)
    assert not paginator.estimated and paginator.count == searched.count()
    assert not FewSearched(views._datasets(org), 7).estimated  # not a search: counted


@pytest.mark.services  # the estimate is PostgreSQL's planner's
def test_pages_and_api_say_when_a_count_is_estimated(org, monkeypatch):
    client = synthetic.signed_in_client(org)
    monkeypatch.setattr(DeepPaginator, "few", 30)
    page = client.get(f"/o/{org.slug}/datasets/", {"created_by": "", "q": "table_"}).content.decode()
    assert re.search(r'class="range">1 - 25 of <abbr [^>]*>about \d+</abbr>', page)
    body = client.get(f"/api/v1/o/{org.slug}/datasets/", {"q": "table_"}).json()
    assert body["estimated"] is True and body["count"] > 30 and len(body["results"]) == 25
    exact = client.get(f"/o/{org.slug}/datasets/", {"created_by": "", "q": "domain01/"}).content.decode()
    assert "about" not in re.search(r'class="range">[^<]*<', exact)[0]
    assert client.get(f"/api/v1/o/{org.slug}/datasets/", {"q": "domain01/"}).json()["estimated"] is False


def test_only_lists_whose_filters_and_order_one_index_holds_skip_bitmap_planning(org):
    models = views._models(org)

    def covered(qs) -> bool:
        return any(held(qs, columns) for columns in DeepPaginator.index_only)
    assert covered(models) and covered(models.filter(cloud_id=1, project_id=2).order_by("-name", "-id"))
    assert covered(models.filter(created_by__iexact="me@x.test", cloud_id=1).order_by("created_at", "pk"))
    assert covered(models.filter(dataset_type__iexact="model"))
    assert not covered(models.filter(created_by__iexact="me@x.test").order_by("name", "id"))
    assert not covered(models.filter(created_by__iexact="me@x.test", dataset_type__iexact="model"))
    assert not covered(models.filter(uri__icontains="m-"))
    assert not covered(models.filter(pk__in=models.values("pk")))
    assert not covered(views._workloads(org).filter(owner_email__iexact="me@x.test"))


def test_a_list_that_joins_tables_joins_them_to_the_pages_rows_only(org, django_assert_num_queries):
    """The workloads list joins each row's cloud and project: its page's keys come first, so the
    statement that joins reads only the page's rows (not every matching row before the sort)."""
    workloads = views._workloads(org).filter(kind__in=["job", "service", "workspace"])
    paginator = DeepPaginator(workloads, 7)
    assert paginator.count > 7
    with CaptureQueriesContext(connection) as queries:
        page = paginator.page(2)
        shown = [(row.cloud.name, row.project.name if row.project else None) for row in page]  # joined: no query
    keys, rows = queries.captured_queries[-2:]
    assert "clouds_cloud" not in keys["sql"] and "LIMIT 7 OFFSET 7" in keys["sql"]
    assert "clouds_cloud" in rows["sql"] and "LIMIT" not in rows["sql"]
    assert len(queries) == 2  # keys, rows (the count was read above)
    want = Paginator(workloads, 7).page(2)
    assert [r.pk for r in page] == [r.pk for r in want]
    assert shown == [(r.cloud.name, r.project.name if r.project else None) for r in want]

    # All of it on one page: one statement, as before.
    with django_assert_num_queries(2):  # count, rows
        assert len(DeepPaginator(workloads, 1_000).page(1)) == paginator.count
