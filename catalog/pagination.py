"""Page-number pagination whose far pages cost about what the first ones do.

`OFFSET n` makes the database produce and throw away n rows: with the list's joins and columns,
page 2000 of 186k datasets took ~140 ms, the middle page ~250 ms. Two changes keep page numbers
(and "1 - 25 of N", and links to any page) while bounding that work:

- the rows skipped are skipped in a subquery that selects only the primary key, so PostgreSQL reads
  the ordering index alone (index-only: the list indexes end with the id) and joins only the 25
  rows shown;
- a page nearer the end than the start is read in the reverse order from the end, so no page skips
  more than half of the list.

A list of few rows (a name search, a project, a workload's inputs) is sorted whole instead: for a
deep page of it, walking the ordering index means reading the org's rows in order until enough of
them match, and PostgreSQL does that when it misjudges how many match (a 5 000-row name search, the
middle page: ~250 ms, against ~10 ms to find the matches through the trigram index and sort them).
Whether rows are few is known exactly: the paginator has counted them. Those keys are read with
bitmap scans only (`bitmap_planned`): every match is read, which a bitmap does in physical order,
never much worse than any other plan, and PostgreSQL otherwise still walked the org's index range
when the order's index does not hold the filter's column ("created by me", 14k of 186k datasets:
150-300 ms against ~30). A list whose filters and order one index holds whole (`index_only`: the
order indexes hold the org, the kind, a cloud and a project; the "created by" and type indexes
are newest first) is left to the planner: an index-only scan, which it does not misjudge and which a bitmap
(reading the table) would make 3-4 times slower.

A name search (`icontains`, served by a trigram index on PostgreSQL) is read once: the ids of
every match in the list's order (if at most `few`), which give the count and any page, with bitmap
scans only. PostgreSQL's estimate of how many rows a `%…%` pattern matches comes from ANALYZE's
sample and swings with it (1 900 to 9 500 for the same 5 000); at the high end it walked the org's
range of an index checking the pattern on every row (~100-300 ms) instead of using the trigram
index (~15-30 ms), for the count and for a deep page.

All of this needs a total order (the ordering ends with the primary key, as every list's does);
other querysets, lists, and the first pages paginate as Django's Paginator does.
"""

from __future__ import annotations

from functools import cached_property, partial

from django.core.exceptions import EmptyResultSet
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections
from django.db.models import F, QuerySet
from django.db.models.expressions import Col
from django.db.models.lookups import IContains
from django.db.models.sql import Query
from django.utils.tree import Node


def totally_ordered(qs: QuerySet) -> bool:
    """Whether the queryset's ordering ends with its primary key (so it is the same on every run)."""
    query = qs.query
    ordering = query.order_by or (qs.model._meta.ordering if query.default_ordering else ())
    last = ordering[-1] if ordering else None
    return isinstance(last, str) and last.lstrip("-") in ("pk", qs.model._meta.pk.name, qs.model._meta.pk.attname)


def window(qs: QuerySet, start: int, stop: int) -> list:
    """`list(qs[start:stop])`, the rows before `start` skipped by primary key alone.

    The window's keys are read first, then its rows by key: two statements, not one with the keys
    as a subquery (`pk IN (SELECT ... OFFSET n LIMIT 25)`). PostgreSQL planned that one as a
    semi join that ran the subquery again for every row of the organization whenever its
    statistics predated the organization's rows (a tenant new since the last ANALYZE, estimated at
    one row): a deep page of 60,000 datasets ran for minutes instead of ~30 ms."""
    return list(qs.filter(pk__in=list(qs.values_list("pk", flat=True)[start:stop])))


def searches_text(qs: QuerySet) -> bool:
    """Whether the queryset filters by a substring (`icontains`: the lists' name search)."""
    def found(node: Node) -> bool:
        return any(isinstance(c, IContains) or (isinstance(c, Node) and found(c)) for c in node.children)
    return found(qs.query.where)


def _sorted_keys(qs: QuerySet, fence: str) -> tuple[str, list]:
    """SQL selecting the primary keys of every row of `qs` in its order: the matching rows' ordering
    columns read whole, then sorted (the subquery's `fence`, an OFFSET or LIMIT, keeps the planner
    from pushing the ORDER BY into it, where it would walk an index in order)."""
    ordering = list(qs.query.order_by or qs.model._meta.ordering)
    if not qs.query.standard_ordering:  # .reverse()
        ordering = [o[1:] if o.startswith("-") else f"-{o}" for o in ordering]
    keys = qs.order_by().values(c0=F("pk"), **{f"c{i}": F(o.lstrip("-")) for i, o in enumerate(ordering, start=1)})
    sql, params = keys.query.sql_with_params()
    order = ", ".join(f"c{i} {'DESC' if o.startswith('-') else 'ASC'}" for i, o in enumerate(ordering, start=1))
    # Only generated aliases and integers are spliced in; values stay parameters.
    return f"SELECT c0 FROM ({sql} {fence}) AS matching ORDER BY {order}", list(params)  # noqa: S608


def bitmap_planned(alias: str, sql: str, params: list) -> list[tuple]:
    """The rows of one statement planned by PostgreSQL with bitmap scans only (no plain or
    index-only index scans, no sequential scans). One round trip: SET LOCAL, the statement and
    RESET are sent together and run as one implicit transaction, which the SET LOCAL ends with (or
    inside the caller's transaction, where the RESET ends it). Several statements in one execute
    need client-side parameter binding, psycopg's default and ours."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off;"
                       f" {sql}; RESET enable_indexscan; RESET enable_seqscan", params)
        cursor.nextset()
        cursor.nextset()
        return cursor.fetchall()


def sorted_ids(qs: QuerySet, *, start: int = 0, stop: int | None = None, cap: int | None = None,
               bitmap: bool = True) -> list:
    """The primary keys of `qs[start:stop]` (of at most `cap` matching rows, read in no order, when
    given), found as `_sorted_keys` says, by bitmap scans on PostgreSQL unless `bitmap` is false:
    every match is read, and for that a bitmap is never much worse than an index walk, which
    PostgreSQL picks when it misjudges how many rows match (a name search, "created by me":
    ~150-300 ms against ~30)."""
    connection = connections[qs.db]
    fence = f"LIMIT {int(cap)}" if cap is not None else "OFFSET 0" if connection.vendor == "postgresql" \
        else "LIMIT -1 OFFSET 0"  # SQLite has no OFFSET without LIMIT
    try:
        sql, params = _sorted_keys(qs, fence)
    except EmptyResultSet:  # a filter nothing can match
        return []
    if stop is not None:
        sql += f" LIMIT {int(stop - start)} OFFSET {int(start)}"
    if connection.vendor == "postgresql" and bitmap:
        return [row[0] for row in bitmap_planned(qs.db, sql, params)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def sorted_window(qs: QuerySet, start: int, stop: int, *, bitmap: bool = True) -> list:
    """`list(qs[start:stop])`: the window's keys found by `sorted_ids`, then its rows by primary key."""
    return list(qs.filter(pk__in=sorted_ids(qs, start=start, stop=stop, bitmap=bitmap)))


def filters_only(qs: QuerySet, columns: frozenset[str]) -> bool:
    """Whether every condition of the queryset is on one of `columns` (and none is a subquery)."""
    def found(node: Node) -> bool:
        return all(found(c) if isinstance(c, Node) else
                   isinstance(getattr(c, "lhs", None), Col) and c.lhs.target.column in columns
                   and not isinstance(c.rhs, Query | QuerySet) for c in node.children)
    return found(qs.query.where)


def held(qs: QuerySet, columns: frozenset[str]) -> bool:
    """Whether `columns` hold every condition (`filters_only`) and every ordering field of the queryset."""
    meta = qs.model._meta
    ordering = [o.lstrip("-") for o in qs.query.order_by or meta.ordering]
    return filters_only(qs, columns) and all(
        (meta.pk if o == "pk" else meta.get_field(o)).column in columns for o in ordering)


def estimated_count(qs: QuerySet) -> int:
    """PostgreSQL's estimate of how many rows `qs` has (planning only, nothing read)."""
    try:
        sql, params = qs.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return 0
    with connections[qs.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedPage(Page):
    """A page of a list whose count is an estimate: it ends where its rows do."""

    def has_next(self) -> bool:
        return len(self.object_list) == self.paginator.per_page and super().has_next()

    def start_index(self) -> int:
        return super().start_index() if len(self.object_list) else 0

    def end_index(self) -> int:
        return self.start_index() + len(self.object_list) - 1 if len(self.object_list) else 0


class DeepPaginator(Paginator):
    """Django's Paginator, with deep pages of a totally ordered queryset read as described above.

    A name search with more than `few` matches is not counted (reading every match takes 150-500 ms
    for 80 000 of them, however it is planned): `count` is PostgreSQL's estimate, rounded, and
    `estimated` says so; its pages are read from the start only, and a page ends where its rows do."""

    deep = 500  # rows skipped before the deep path pays for its subquery
    few = 20_000  # lists up to this long are sorted whole for a deep page (sorted_window)
    # A few-row list whose filters and order one of these holds (the columns of one of the lists'
    # indexes: migrations 0008, 0010, 0015, 0016) has its keys read as PostgreSQL plans them, not by
    # bitmap: an index-only scan, which it does not misjudge (all 14 000 models, middle page: ~5 ms
    # against ~20; "created by me", 14 000 datasets: ~9 ms against ~30).
    index_only = tuple(frozenset({"org_id", "kind", "cloud_id", "project_id", "id", *order})
                       for order in (("created_at",), ("name",), ("created_by", "created_at"),
                                     ("dataset_type", "created_at")))

    def _ordered(self) -> bool:
        """Whether the deep paths apply: a queryset in a total order."""
        return isinstance(self.object_list, QuerySet) and totally_ordered(self.object_list)

    def _sortable(self) -> bool:
        """Whether its keys can be sorted apart from it (`_sorted_keys`): ordered by fields only."""
        return self._ordered() and all(isinstance(o, str) for o in self.object_list.query.order_by)

    def _search(self) -> bool:
        return self._sortable() and searches_text(self.object_list)

    @cached_property
    def _searched(self) -> list | None:
        """Every id of a name search in order, if it has at most `few` matches: read once, they
        give the count and any page."""
        if not self._search():
            return None
        ids = sorted_ids(self.object_list, cap=self.few + 1)
        return ids if len(ids) <= self.few else None

    @cached_property
    def estimated(self) -> bool:
        """Whether `count` is an estimate: a name search with more than `few` matches (PostgreSQL)."""
        return (self._searched is None and self._search()
                and connections[self.object_list.db].vendor == "postgresql")

    @cached_property
    def count(self) -> int:
        if self._searched is not None:
            return len(self._searched)
        if self.estimated:  # more than `few`, whatever the planner thinks; two significant digits
            guess = max(estimated_count(self.object_list), self.few + 1)
            unit = 10 ** max(len(str(guess)) - 2, 0)
            return round(guess / unit) * unit
        return super().count

    def _bounds(self, number: int) -> tuple[int, int]:
        """The rows of page `number`, as Paginator.page has them (the last page takes the orphans)."""
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count and not self.estimated:
            top = self.count
        return bottom, top

    def validate_number(self, number) -> int:
        """With an estimated count, any page from 1 on: the rows may go on past the estimate."""
        try:
            return super().validate_number(number)
        except EmptyPage:
            if not self.estimated or int(number) < 1:
                raise
            return int(number)

    def _get_page(self, *args, **kwargs) -> Page:
        return EstimatedPage(*args, **kwargs) if self.estimated else super()._get_page(*args, **kwargs)

    def page(self, number) -> Page:
        number = self.validate_number(number)
        qs = self.object_list
        bottom, top = self._bounds(number)
        if self._searched is not None:
            return self._get_page(list(qs.filter(pk__in=self._searched[bottom:top])), number, self)
        if self.estimated:  # the end is not known: forwards only
            return self._get_page(list(qs[bottom:top]) if bottom < self.deep else window(qs, bottom, top),
                                  number, self)
        if bottom < self.deep or not self._ordered():
            if self._ordered() and qs.query.select_related and self.count > top - bottom:
                # A list that joins tables (a workload's cloud and project) and has more rows than
                # the page: the page's keys are picked first, then only its rows are joined. In one
                # statement PostgreSQL joins every matching row before the top-N sort whenever no
                # index gives the order (the 5 000 readers of a hub: ~54 ms against ~30).
                return self._get_page(window(qs, bottom, top), number, self)
            return super().page(number)
        if self.count <= self.few and self._sortable():
            read = partial(sorted_window, bitmap=not any(held(qs, columns) for columns in self.index_only))
        else:
            read = window
        if bottom > self.count - top:  # nearer the end: from there, in the reverse order
            rows = read(qs.reverse(), self.count - top, self.count - bottom)[::-1]
        else:
            rows = read(qs, bottom, top)
        return self._get_page(rows, number, self)
