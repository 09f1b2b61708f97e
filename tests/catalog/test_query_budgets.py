"""Query-count budgets: a list costs the same number of queries for 1 row or 100 (no N+1), and
detail pages and the graph stay within a fixed budget."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

# session + user + org, count + rows, cloud + project dropdowns, type/status dropdown, the page
# shell's role lookup (the navigation shows what the role may open), and the page's keys, read apart
# from its rows when the list joins tables and has more rows than the page (catalog.pagination).
LIST_PAGE_BUDGET = 11
# session + user (token/session auth) + org + count + keys + rows.
API_LIST_BUDGET = 7


@pytest.mark.parametrize("url", ["/o/acme/datasets/", "/o/acme/models/", "/o/acme/workloads/"])
@pytest.mark.parametrize("params", [{}, {"created_by": "", "per_page": 100}, {"created_by": "", "per_page": 10,
                                                                             "sort": "name", "q": "a"}])
def test_list_pages_stay_within_budget(history, member_client, django_assert_max_num_queries, url, params):
    with django_assert_max_num_queries(LIST_PAGE_BUDGET):
        assert member_client.get(url, params).status_code == 200


@pytest.mark.parametrize("url", ["/api/v1/o/acme/datasets/", "/api/v1/o/acme/models/", "/api/v1/o/acme/workloads/",
                                 "/api/v1/o/acme/runs/"])
def test_api_lists_stay_within_budget(history, member_client, django_assert_max_num_queries, url):
    with django_assert_max_num_queries(API_LIST_BUDGET):
        assert member_client.get(url, {"per_page": 100}).status_code == 200


def test_filters_with_cloud_and_project_cost_no_extra_queries_per_row(history, member_client,
                                                                      django_assert_max_num_queries):
    params = {"created_by": "", "cloud": history.tenant.cloud.pk, "per_page": 100}
    with django_assert_max_num_queries(LIST_PAGE_BUDGET):
        member_client.get("/o/acme/workloads/", params)
    with django_assert_max_num_queries(API_LIST_BUDGET + 1):  # + validating the cloud choice
        member_client.get("/api/v1/o/acme/workloads/", params)


def test_detail_pages_stay_within_budget(history, member_client, django_assert_max_num_queries):
    feat = history.asset("daily/features.parquet").pk
    with django_assert_max_num_queries(13):
        assert member_client.get(f"/o/acme/datasets/{feat}/").status_code == 200
    train = history.workload("train").pk
    with django_assert_max_num_queries(15):
        assert member_client.get(f"/o/acme/workloads/{train}/").status_code == 200


def test_graph_costs_a_few_queries_per_hop_not_per_node(history, member_client, django_assert_max_num_queries):
    hub, feat = history.node("HUB"), history.node("FEAT")
    # auth (2) + org + focus, one edge query per hop and side (node types alternate), node rows (2), counts (2)
    with django_assert_max_num_queries(4 + 2 + 4):
        member_client.get("/api/v1/o/acme/graph/", {"node": hub, "per_node": 200})
    with django_assert_max_num_queries(4 + 2 * 4 + 4):
        member_client.get("/api/v1/o/acme/graph/", {"node": feat, "depth": 4})
