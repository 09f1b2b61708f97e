"""One waiting drain task at a time (ingest.scheduling), claimed off the request thread."""

from __future__ import annotations

import pytest

from ingest import scheduling

pytestmark = pytest.mark.services


@pytest.fixture
def flag():
    client = scheduling._redis()
    assert client is not None, "needs the Redis broker"
    client.delete(scheduling.FLAG)
    yield client
    scheduling.flush()
    client.delete(scheduling.FLAG)


def test_a_burst_of_events_publishes_one_task(flag):
    published: list[list[int]] = []
    for raw_id in range(50):
        scheduling.request_drain([raw_id], published.append)
    assert scheduling.flush()
    assert len(published) == 1 and 0 in published[0]
    assert flag.get(scheduling.FLAG) is not None  # the task clears it before it claims


def test_an_event_handed_after_the_task_cleared_the_flag_publishes_again(flag):
    published: list[list[int]] = []
    scheduling.request_drain([1], published.append)
    assert scheduling.flush()
    scheduling.request_drain([2], published.append)
    assert scheduling.flush()
    assert published == [[1]]  # a task is waiting and will see event 2
    scheduling.release_schedule()  # that task starts: events committed from now on need a new one
    scheduling.request_drain([3], published.append)
    assert scheduling.flush()
    assert published == [[1], [3]]


def test_a_broker_failure_is_logged_not_raised(flag, caplog):
    def broken(ids):
        raise ConnectionError("broker down")

    scheduling.request_drain([7], broken)
    assert scheduling.flush()
    assert "could not enqueue 1 raw events" in caplog.text
