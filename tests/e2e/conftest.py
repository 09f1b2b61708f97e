from __future__ import annotations

import contextlib

import pytest

from tests.e2e.support import Proc


class Processes:
    """Every subprocess a test starts; all are stopped at teardown, last started first."""

    def __init__(self) -> None:
        self.items: list = []

    def add(self, item):
        self.items.append(item)
        return item

    def stop_all(self) -> None:
        for item in reversed(self.items):
            with contextlib.suppress(Exception):
                item.stop()
        self.items.clear()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}) ---\n{p.log()}" for p in self.items if isinstance(p, Proc))


@pytest.fixture
def processes(transactional_db):
    """Depends on transactional_db so the processes are gone before the tables are flushed
    (and long before pytest-django drops the test database, which fails while they are connected)."""
    registry = Processes()
    try:
        yield registry
    finally:
        registry.stop_all()
