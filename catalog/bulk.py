"""Bulk UPDATE of many rows by primary key, without Django's CASE/WHEN construction.

`QuerySet.bulk_update` compiles a CASE expression per row and field, which costs ~10 ms of Python
per row for our JSON columns. One parameterized UPDATE run through `executemany` is pipelined by
psycopg 3 on PostgreSQL and runs in-process on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


def update_rows(model: type[models.Model], rows: Sequence[models.Model], field_names: Sequence[str]) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in field_names]
    pk = model._meta.pk
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # Only identifiers from model metadata are interpolated; every value is a parameter.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(pk.column)} = %s"  # noqa: S608
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


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
