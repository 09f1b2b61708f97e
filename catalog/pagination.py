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
Whether rows are few is known exactly: the paginator has counted them.

All of this needs a total order (the ordering ends with the primary key, as every list's does);
other querysets, lists, and the first pages paginate as Django's Paginator does.
"""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL


def totally_ordered(qs: QuerySet) -> bool:
    """Whether the queryset's ordering ends with its primary key (so it is the same on every run)."""
    query = qs.query
    ordering = query.order_by or (qs.model._meta.ordering if query.default_ordering else ())
    last = ordering[-1] if ordering else None
    return isinstance(last, str) and last.lstrip("-") in ("pk", qs.model._meta.pk.name, qs.model._meta.pk.attname)


def window(qs: QuerySet, start: int, stop: int) -> list:
    """`list(qs[start:stop])`, the rows before `start` skipped by primary key alone."""
    return list(qs.filter(pk__in=qs.values("pk")[start:stop]))


def sorted_window(qs: QuerySet, start: int, stop: int) -> list:
    """`list(qs[start:stop])`, the matching rows' ordering columns read whole (however the filters
    are best served, never by walking the ordering index: the subquery's OFFSET 0 keeps the planner
    from pushing the ORDER BY into it) and sorted, then the window's rows joined by primary key."""
    ordering = list(qs.query.order_by or qs.model._meta.ordering)
    if not qs.query.standard_ordering:  # .reverse()
        ordering = [o[1:] if o.startswith("-") else f"-{o}" for o in ordering]
    keys = qs.order_by().values(c0=F("pk"), **{f"c{i}": F(o.lstrip("-")) for i, o in enumerate(ordering, start=1)})
    sql, params = keys.query.sql_with_params()
    fence = "OFFSET 0" if connection.vendor == "postgresql" else "LIMIT -1 OFFSET 0"  # SQLite: no OFFSET alone
    order = ", ".join(f"c{i} {'DESC' if o.startswith('-') else 'ASC'}" for i, o in enumerate(ordering, start=1))
    # Only generated aliases and integers are spliced in; values stay parameters.
    ids = RawSQL(f"SELECT c0 FROM ({sql} {fence}) AS matching ORDER BY {order}"  # noqa: S608, S611
                 f" LIMIT {int(stop - start)} OFFSET {int(start)}", params)
    return list(qs.filter(pk__in=ids))


class DeepPaginator(Paginator):
    """Django's Paginator, with deep pages of a totally ordered queryset read as described above."""

    deep = 500  # rows skipped before the deep path pays for its subquery
    few = 20_000  # lists up to this long are sorted whole for a deep page (sorted_window)

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        qs = self.object_list
        if not isinstance(qs, QuerySet) or bottom < self.deep or not totally_ordered(qs):
            return super().page(number)
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        few = self.count <= self.few and all(isinstance(o, str) for o in qs.query.order_by)
        read = sorted_window if few else window
        if bottom > self.count - top:  # nearer the end: from there, in the reverse order
            rows = read(qs.reverse(), self.count - top, self.count - bottom)[::-1]
        else:
            rows = read(qs, bottom, top)
        return self._get_page(rows, number, self)
