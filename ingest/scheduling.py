"""At most one normalization task waiting at a time, however many requests arrive.

Each single-event request used to enqueue its own task; under load thousands of tasks found their
events already normalized by an earlier batch, and their overhead alone outran the real work.
Now a request enqueues a drain task only when it can set a Redis flag (SET NX, with an expiry in
case the task is lost), and the task clears the flag *before* it claims pending events:

- an event committed before the flag was cleared is seen by that task's claim;
- an event committed after it finds no flag and enqueues a new task.

So every committed event is followed by a claim that sees it, with one task per burst instead of
one per event. Without Redis (eager mode, or another broker) every request enqueues, as before.
"""

from __future__ import annotations

from functools import cache

import redis

FLAG = "lineage:normalize:scheduled"
FLAG_TTL_MS = 5_000  # a task lost before it cleared the flag delays the next one at most this long


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def _redis() -> redis.Redis | None:
    """The broker's Redis: the flag must live where the tasks go (the app's broker, as configured now)."""
    from lineage_project.celery import app

    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None
    return _client(url)


def claim_schedule() -> bool:
    """True if the caller should enqueue a drain task (no task is waiting to run)."""
    client = _redis()
    if client is None:
        return True
    return bool(client.set(FLAG, b"1", nx=True, px=FLAG_TTL_MS))


def release_schedule() -> None:
    """Called by the task before it claims: events committed from now on schedule a new task."""
    client = _redis()
    if client is not None:
        client.delete(FLAG)
