"""A light HTTP load generator: client processes, each on one keep-alive connection, posting
prepared bodies as the OpenLineage client does (JSON, Bearer key). Framework-free.

http.client instead of requests keeps the generator's own CPU small: on a 2-core machine it
shares the cores with the server it measures, equally for our endpoint and the reference.

Large bodies (batches) go on a new connection each: gunicorn's workers race to accept, so two
long-lived connections land on the same worker process half the time, where their requests
take turns on one GIL and the measurement becomes a coin flip between one core and two. A new
connection per request is accepted by whichever worker is free. Small bodies keep one
keep-alive connection per client, as the OpenLineage client does.
"""

from __future__ import annotations

import http.client
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass


@dataclass
class LoadResult:
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


RECONNECT_FROM_BYTES = 64 * 1024


# The bodies each client posts, handed over by fork rather than pickled through the pool's pipe:
# pickling 20 MB of batches per client cost CPU while the first clients were already measured.
_SLICES: list[list[bytes]] = []


def _worker(args: tuple) -> tuple[int, dict[int, int], list[float], float, float]:
    host, port, path, headers, index, interval = args
    bodies = _SLICES[index]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    statuses: Counter = Counter()
    latencies: list[float] = []
    # Untimed: one GET first (405 from our endpoints and the reference alike; nothing is stored),
    # so a worker's very first request, where Django imports the URLconf (about a second), is
    # not in the figure. The single-event bench also warms up with POSTs; the batch bench did not.
    try:
        conn.request("GET", path, headers={"Connection": "keep-alive"})
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        conn.close()
        conn = http.client.HTTPConnection(host, port, timeout=30)
    started = time.perf_counter()
    next_at = started
    for body in bodies:
        if interval:
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        t = time.perf_counter()
        if len(body) >= RECONNECT_FROM_BYTES:
            conn.close()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            statuses[response.status] += 1
        except (OSError, http.client.HTTPException):
            statuses[-1] += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
        latencies.append(time.perf_counter() - t)
    conn.close()
    return len(bodies), dict(statuses), latencies, started, time.perf_counter()


def post_all(url_host: str, port: int, path: str, bodies: list[bytes], *, key: str = "", clients: int = 4,
             rate: float | None = None) -> LoadResult:
    """POST every body once, spread over `clients` processes; at most `rate` requests/s in total if given."""
    headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    interval = clients / rate if rate else 0.0
    _SLICES[:] = [bodies[i::clients] for i in range(clients)]
    ctx = multiprocessing.get_context("fork")
    try:
        with ctx.Pool(clients) as pool:
            results = pool.map(_worker, [(url_host, port, path, headers, i, interval) for i in range(clients)])
    finally:
        _SLICES.clear()
    statuses: Counter = Counter()
    latencies: list[float] = []
    for _, st, lat, _, _ in results:
        statuses.update(st)
        latencies.extend(lat)
    seconds = max(r[4] for r in results) - min(r[3] for r in results)
    return LoadResult(sum(r[0] for r in results), seconds, dict(statuses), latencies)
