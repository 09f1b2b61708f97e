"""At most one normalization task waiting at a time, however many requests arrive.

Each single-event request used to enqueue its own task; under load thousands of tasks found their
events already normalized by an earlier batch, and their overhead alone outran the real work.
Now a request enqueues a drain task only when it can set a Redis flag (SET NX, with an expiry in
case the task is lost), and the task clears the flag *before* it claims pending events:

- an event committed before the flag was cleared is seen by that task's claim;
- an event committed after it finds no flag and enqueues a new task.

So every committed event is followed by a claim that sees it, with one task per burst instead of
one per event. Without Redis (eager mode, or another broker) every request enqueues, as before.

The SET NX itself is a round trip that cost single-event ingest about a sixth of its throughput,
so requests do not make it: `request_drain` hands the committed ids to one thread per process,
which makes the SET NX (and publishes when it wins) for everything handed to it since its last
turn, at most once per DRAIN_WINDOW. The guarantee holds as before, since that SET NX happens after
each of those events committed. A process that dies with ids not yet handed on loses nothing
either: they are pending rows, and the sweeper re-enqueues them.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from functools import cache

import redis

log = logging.getLogger(__name__)

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


DRAIN_WINDOW = 0.01  # seconds between two SET NX of one process under load (adds at most this to the lag)


class _Scheduler:
    """One per process: the thread that claims the schedule for the ids requests hand it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.ids: list[int] = []
        self.publish: Callable[[list[int]], None] | None = None
        self.busy = False
        threading.Thread(target=self._run, name="lineage-drain-scheduler", daemon=True).start()

    def hand(self, raw_ids: list[int], publish: Callable[[list[int]], None]) -> None:
        with self.cond:
            self.ids.extend(raw_ids)
            self.publish = publish
            self.cond.notify_all()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.ids:
                    self.cond.wait()
                ids, self.ids, self.busy = self.ids, [], True
                publish = self.publish
            try:
                if claim_schedule():
                    publish(ids)
            except Exception as exc:  # the broker's errors are many and transport-specific
                log.warning("could not enqueue %d raw events (%s: %s); the sweeper will pick them up",
                            len(ids), type(exc).__name__, exc)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()
            time.sleep(DRAIN_WINDOW)

    def flush(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: not self.ids and not self.busy, timeout)


_scheduler: _Scheduler | None = None
_scheduler_lock = threading.Lock()


def request_drain(raw_ids: list[int], publish: Callable[[list[int]], None]) -> None:
    """Make sure a drain task will claim these committed events: `publish(ids)` enqueues one.

    Without Redis, publish at once (every request enqueues); with it, hand them to the process's
    scheduler thread (module docstring). Never raises for the broker: failures are logged, and
    the events stay pending for the sweeper."""
    global _scheduler
    if _redis() is None:
        try:
            publish(raw_ids)
        except Exception as exc:  # the broker's errors are many and transport-specific
            log.warning("could not enqueue %d raw events (%s: %s); the sweeper will pick them up",
                        len(raw_ids), type(exc).__name__, exc)
        return
    scheduler = _scheduler
    if scheduler is None or scheduler.pid != os.getpid():  # none yet, or inherited across a fork
        with _scheduler_lock:
            if _scheduler is None or _scheduler.pid != os.getpid():
                _scheduler = _Scheduler()
            scheduler = _scheduler
    scheduler.hand(raw_ids, publish)


def flush(timeout: float = 5.0) -> bool:
    """Wait until this process's scheduler has handled every id handed to it (tests, shutdown)."""
    scheduler = _scheduler
    if scheduler is None or scheduler.pid != os.getpid():
        return True
    return scheduler.flush(timeout)


atexit.register(flush, 2.0)
