"""Set-based writes for the hot paths (normalizer, sealer, ingest), without model instances.

Django's bulk_update compiles a CASE expression per row and field (~10 ms of Python a row for our
JSON columns) and bulk_create builds and saves instances; these send rows as COPY data or one
statement per chunk instead (see Table).
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Iterable, Sequence
from typing import ClassVar

import orjson
from django.db import connection, models


def insert_ignoring_conflicts(model: type[models.Model], rows: Sequence[models.Model],
                              conflict_fields: Sequence[str], returning: Sequence[str]) -> list[tuple]:
    """INSERT rows, skipping those that hit the unique `conflict_fields`, and return `returning`
    columns of the rows actually inserted: one round trip where bulk_create(ignore_conflicts=True)
    plus the queries to learn which rows are new would take three. PostgreSQL and SQLite >= 3.35."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    conflict = ", ".join(quote(model._meta.get_field(name).column) for name in conflict_fields)
    back = ", ".join(quote(model._meta.get_field(name).column) for name in returning)
    # Only identifiers from model metadata are interpolated; every value is a parameter.
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([one] * len(rows))} "  # noqa: S608
           f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {back}")
    params = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for row in rows for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def dumps_json(value) -> str:
    """JSON text for a JSON column. orjson where it can (several times faster than json for the
    normalizer's facet-sized documents); json for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


def loads_json(text: str | bytes):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # out-of-range integers (and anything else orjson refuses)
        return json.loads(text)


class Table:
    """Set-based reads and writes of one model's table for the normalizer's hot path: rows as
    tuples, values adapted once per column type, no model instances (building and saving model
    instances was most of the normalizer's time).

    On PostgreSQL rows travel by COPY (measured: 600 asset rows in 13 ms, against 80 ms as one
    multi-row INSERT, most of it psycopg parsing the statement's 8,000 placeholders): new rows get
    their ids from the sequence first and are copied straight into the table; updates and
    upserts are copied into a session's temporary table and applied with one statement that
    consumes it. SQLite (the embedded default) gets the same statements with VALUES lists. Only
    identifiers from model metadata are interpolated into SQL; every value is a parameter."""

    MAX_PARAMS = 30_000  # under SQLite's 32,766 and PostgreSQL's 65,535
    _sequences: ClassVar[dict[str, str]] = {}  # table -> its id sequence (never changes)

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.quote = connection.ops.quote_name
        self.name = self.quote(model._meta.db_table)
        self.pk = model._meta.pk
        self.postgres = connection.vendor == "postgresql"

    def field(self, name: str) -> models.Field:
        return self.model._meta.get_field(name)

    def column(self, name: str) -> str:
        return self.quote(self.field(name).column)

    def columns(self, names: Sequence[str]) -> str:
        return ", ".join(self.column(n) for n in names)

    def adapter(self, name: str):
        """How to pass a column's values to the database, or None when they go as they are."""
        field = self.field(name)
        kind = field.get_internal_type()
        if kind == "JSONField":
            return lambda v: None if v is None else dumps_json(v)
        if self.postgres:
            return None  # psycopg adapts datetimes and UUIDs itself
        if kind == "DateTimeField":
            return connection.ops.adapt_datetimefield_value
        if kind == "UUIDField":
            return lambda v: field.get_db_prep_value(v, connection)
        return None

    def reader(self, name: str):
        kind = self.field(name).get_internal_type()
        if kind == "JSONField":
            return lambda v: v if v is None or isinstance(v, (dict, list)) else loads_json(v)
        if kind == "UUIDField":
            return lambda v: v if v is None or isinstance(v, uuid.UUID) else uuid.UUID(v)
        return lambda v: v

    def _adapted(self, names: Sequence[str], rows: Iterable[Sequence]) -> list[Sequence]:
        adapt = [(i, a) for i, a in enumerate(self.adapter(n) for n in names) if a is not None]
        if not adapt:
            return list(rows)
        out = []
        for row in rows:
            row = list(row)
            for i, a in adapt:
                row[i] = a(row[i])
            out.append(row)
        return out

    def _chunks(self, rows: Sequence, width: int) -> Iterable[Sequence]:
        size = max(1, self.MAX_PARAMS // max(1, width))
        for start in range(0, len(rows), size):
            yield rows[start:start + size]

    def select(self, scope: dict[str, object], key_fields: Sequence[str], keys: Sequence, columns: Sequence[str]) -> list[tuple]:
        """Rows of `scope` whose key (one value, or a tuple for several key fields) is in `keys`."""
        if not keys:
            return []
        read = [self.reader(c) for c in columns]
        where = " AND ".join(f"{self.column(k)} = %s" for k in scope)
        keys = self._adapted(key_fields, [(k,) if len(key_fields) == 1 else k for k in keys])
        out: list[tuple] = []
        if self.postgres:
            # One array per key column: a statement of fixed text, which psycopg need not parse
            # anew for every batch size (thousands of placeholders cost more than the query).
            # The keys drive the join: each probes the scope's unique index (the LATERAL subquery
            # cannot be flattened and reordered, OFFSET 0), and the scope's values are InitPlan
            # parameters, `(SELECT %s)`, estimated as the column's average rather than as what the
            # statistics say of that very value. As `key IN (SELECT unnest(...))`, an organization
            # newer than the table's last ANALYZE was estimated at one row and read whole once per
            # key, so each batch cost more than the last (39 ms for 250 keys at 1,250 rows, and
            # growing); probing with a literal organization picked another of its indexes.
            arrays = ", ".join(f"%s::{self.field(k).db_type(connection)}[]" for k in key_fields)
            names = ", ".join(f"k{i}" for i in range(len(key_fields)))
            match = " AND ".join(f"t.{self.column(k)} = k.k{i}" for i, k in enumerate(key_fields))
            scoped = " AND ".join(f"t.{self.column(k)} = (SELECT %s)" for k in scope)
            sql = (f"SELECT x.* FROM unnest({arrays}) AS k({names}) CROSS JOIN LATERAL ("  # noqa: S608
                   f"SELECT {', '.join(f't.{self.column(c)}' for c in columns)} FROM {self.name} t "
                   f"WHERE {scoped} AND {match} OFFSET 0) x")
            with connection.cursor() as cursor:
                cursor.execute(sql, [*(list(column) for column in zip(*keys, strict=True)), *scope.values()])
                return [tuple(r(v) for r, v in zip(read, row, strict=True)) for row in cursor.fetchall()]
        for chunk in self._chunks(keys, len(key_fields)):
            one = "(" + ", ".join(["%s"] * len(key_fields)) + ")"
            match = f"({self.columns(key_fields)}) IN (VALUES {', '.join([one] * len(chunk))})"
            sql = f"SELECT {self.columns(columns)} FROM {self.name} WHERE {where} AND {match}"  # noqa: S608
            with connection.cursor() as cursor:
                cursor.execute(sql, [*scope.values(), *(v for key in chunk for v in key)])
                out.extend(tuple(r(v) for r, v in zip(read, row, strict=True)) for row in cursor.fetchall())
        return out

    def insert(self, columns: Sequence[str], rows: Sequence[Sequence]) -> list[int]:
        """Insert new rows (values in `columns` order); returns their ids, in order."""
        if not rows:
            return []
        ids = self._new_ids(len(rows))
        names = [self.pk.name, *columns]
        data = self._adapted(names, ([i, *row] for i, row in zip(ids, rows, strict=True)))
        if self.postgres:
            self._copy(self.name, names, data)
        else:
            self._values_statement(f"INSERT INTO {self.name} ({self.columns(names)}) VALUES {{values}}",  # noqa: S608
                                   names, data)
        return ids

    def update(self, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """UPDATE rows by primary key, each row (pk, *values in `columns` order), in one statement."""
        if not rows:
            return
        names = [self.pk.name, *columns]
        assignments = ", ".join(f"{self.column(c)} = v.{self.column(c)}" for c in columns)
        where = f"{self.name}.{self.column(self.pk.name)} = v.{self.column(self.pk.name)}"
        update = f"UPDATE {self.name} SET {assignments} FROM v WHERE {where}"  # noqa: S608
        self._with_rows(names, self._adapted(names, rows), update)

    def widen(self, columns: Sequence[str], rows: Sequence[Sequence], *, conflict: Sequence[str],
              least: Sequence[str] = (), greatest: Sequence[str] = ()) -> None:
        """Insert rows; where one exists with the same `conflict` key, widen its `least` columns
        down and its `greatest` columns up (first and last seen), writing only rows that change."""
        if not rows:
            return
        lo, hi = ("LEAST", "GREATEST") if self.postgres else ("MIN", "MAX")
        mine = {c: f"{self.name}.{self.column(c)}" for c in (*least, *greatest)}
        new = {c: f"excluded.{self.column(c)}" for c in (*least, *greatest)}
        sets = [f"{self.column(c)} = {lo}({mine[c]}, {new[c]})" for c in least]
        sets += [f"{self.column(c)} = {hi}({mine[c]}, {new[c]})" for c in greatest]
        when = " OR ".join([f"{new[c]} < {mine[c]}" for c in least] + [f"{new[c]} > {mine[c]}" for c in greatest])
        upsert = f"ON CONFLICT ({self.columns(conflict)}) DO UPDATE SET {', '.join(sets)} WHERE {when}"
        # "WHERE true" keeps SQLite from reading ON CONFLICT as the SELECT's join constraint.
        insert = f"INSERT INTO {self.name} ({self.columns(columns)}) SELECT * FROM v WHERE true {upsert}"  # noqa: S608
        self._with_rows(columns, self._adapted(columns, rows), insert)

    # --- Plumbing ---------------------------------------------------------------------------------

    def _execute(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def _values_statement(self, template: str, names: Sequence[str], data: list[Sequence]) -> None:
        one = "(" + ", ".join(["%s"] * len(names)) + ")"
        for chunk in self._chunks(data, len(names)):
            self._execute(template.replace("{values}", ", ".join([one] * len(chunk))), [v for row in chunk for v in row])

    def _with_rows(self, names: Sequence[str], data: list[Sequence], statement: str) -> None:
        """Run `statement` over the rows as the table `v`: on PostgreSQL copied into a temporary
        table that the statement consumes, on SQLite a VALUES list."""
        if self.postgres:
            temp = self._temp(names)
            self._copy(temp, names, data)
            self._execute(f"WITH v AS (DELETE FROM {temp} RETURNING *) {statement}")  # noqa: S608
        else:
            self._values_statement(f"WITH v ({self.columns(names)}) AS (VALUES {{values}}) {statement}", names, data)

    def _copy(self, table: str, names: Sequence[str], data: list[tuple]) -> None:
        with connection.cursor() as cursor, connection.wrap_database_errors:
            with cursor.cursor.copy(f"COPY {table} ({self.columns(names)}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)

    def _temp(self, names: Sequence[str]) -> str:
        """A temporary table (this session's, emptied at commit) with these columns of the table.
        Created when missing: a rolled-back savepoint may have taken it away."""
        temp = self.quote(f"_copy_{self.model._meta.db_table}_{len(names)}_{zlib.crc32(' '.join(names).encode()):08x}")
        self._execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "  # noqa: S608
                      f"SELECT {self.columns(names)} FROM {self.name} WITH NO DATA")
        return temp

    def _new_ids(self, n: int) -> list[int]:
        """Ids for n new rows, taken from the table's sequence before the rows are written."""
        if self.postgres:
            table = self.model._meta.db_table
            if table not in self._sequences:
                self._sequences[table] = self._execute("SELECT pg_get_serial_sequence(%s, %s)", [table, self.pk.column])[0][0]
            return [r[0] for r in self._execute("SELECT nextval(%s) FROM generate_series(1, %s)", [self._sequences[table], n])]
        # SQLite: transactions take the write lock when they begin (transaction_mode IMMEDIATE),
        # so nobody else allocates meanwhile; never reuse an id AUTOINCREMENT handed out before.
        top = self._execute(f"SELECT MAX(n) FROM (SELECT MAX({self.column(self.pk.name)}) AS n FROM {self.name} "  # noqa: S608
                            "UNION ALL SELECT seq FROM sqlite_sequence WHERE name = %s)", [self.model._meta.db_table])
        start = (top[0][0] or 0) + 1
        return list(range(start, start + n))
