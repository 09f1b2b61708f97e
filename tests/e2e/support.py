"""Helpers for the end-to-end tests: real subprocesses (Celery worker, Redis, gunicorn), a TCP
proxy that can cut the database off, pointing the in-process Celery app at another broker, the
official OpenLineage client with our custom facets, and bounded polling.

Every process started here is started in its own session (process group) and is ended by its
own id in `stop()`, which fixtures call in their teardown whatever happened in the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from django.db import connection
from openlineage.client import OpenLineageClient
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

from catalog.demo import MlflowModelDatasetFacet, WorkloadRunFacet  # noqa: F401 - re-exported for the tests

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PRODUCER = "https://github.com/example/lineage-e2e-tests"

T = TypeVar("T")


# --- time-bounded waiting -----------------------------------------------------------------------


def wait_until(predicate: Callable[[], T], *, timeout: float = 60.0, interval: float = 0.25,
               message: str | Callable[[], str] = "condition") -> T:
    """Poll `predicate` until it returns something truthy; fail with `message` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    text = message() if callable(message) else message
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {text} (last value: {last!r})")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- database ----------------------------------------------------------------------------------


def subprocess_database_url(port: int = PG_PORT) -> str:
    """URL of the database pytest-django created for this session (`test_lineage` by default),
    for subprocesses. Must be called while the test database is set up."""
    name = connection.settings_dict["NAME"]
    assert name.startswith("test"), f"refusing to point a subprocess at a non-test database {name!r}"
    user = connection.settings_dict.get("USER") or "postgres"
    return f"postgres://{user}@{PG_HOST}:{port}/{name}"


# --- subprocesses ------------------------------------------------------------------------------


class Proc:
    """A subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_path: Path, cwd: Path = REPO):
        self.name, self.argv, self.log_path = name, argv, log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def kill9(self) -> None:
        """SIGKILL the process group, as a crash would."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM its process group, then SIGKILL if it does not exit within `grace` seconds."""
        try:
            if self.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGTERM)
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.pid, signal.SIGKILL)
                    self.popen.wait(timeout=10)
            # Children left in the group (gunicorn workers, a celery beat) go too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        finally:
            self._log.close()


def base_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENLINEAGE"))}
    env["DJANGO_SETTINGS_MODULE"] = "lineage_project.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO)  # the code of this checkout, whatever the venv's editable install points at
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def start_worker(*, broker_url: str, database_url: str, log_path: Path, name: str = "e2e",
                 extra_args: list[str] | None = None, **env: str) -> Proc:
    argv = [str(VENV_BIN / "celery"), "-A", "lineage_project", "worker", "--pool=solo", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"{name}-{os.getpid()}-{time.monotonic_ns()}@%h", *(extra_args or [])]
    return Proc(name, argv, env=base_env(CELERY_BROKER_URL=broker_url, REDIS_URL=None, DATABASE_URL=database_url,
                                         **env), log_path=log_path)


def start_gunicorn(*, port: int, database_url: str, broker_url: str, log_path: Path, access_log: Path,
                   args: tuple[str, ...] = (), **env: str) -> Proc:
    """The application as production runs it: gunicorn with the repository's gunicorn.conf.py, but
    one worker with one thread, so that consecutive requests share a database connection. The
    access log has one line per response: `<status> <method> <path> <seconds>`. `args` override."""
    argv = [str(VENV_BIN / "gunicorn"), "-c", str(REPO / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}",
            "-w", "1", "--threads", "1", "--graceful-timeout", "5", "--access-logfile", str(access_log),
            "--access-logformat", "%(s)s %(m)s %(U)s %(L)s", "--error-logfile", "-",
            # gunicorn 27 otherwise binds ~/.gunicorn/gunicorn.ctl, shared by every gunicorn of the user
            "--no-control-socket", *args]
    return Proc("gunicorn", argv, env=base_env(DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url, REDIS_URL=None,
                                               **env), log_path=log_path)


def wait_until_serving(base: str, server: Proc) -> None:
    """Wait for the application at `base` to answer /healthz (gunicorn started, app loaded)."""
    import requests

    def healthy() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(healthy, timeout=60, message=lambda: f"gunicorn to serve /healthz:\n{server.log()}")


class RedisServer:
    """Our own redis-server on a port of our own, without persistence (a restart loses the queue)."""

    def __init__(self, port: int, log_path: Path):
        self.port, self.log_path = port, log_path
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://{REDIS_HOST}:{self.port}/0"

    def start(self) -> None:
        assert self.proc is None or not self.proc.alive()
        argv = ["redis-server", "--bind", REDIS_HOST, "--port", str(self.port), "--save", "", "--appendonly", "no",
                "--daemonize", "no"]
        self.proc = Proc(f"redis-{self.port}", argv, env=base_env(), log_path=self.log_path)
        wait_until(lambda: self.ping(), timeout=15, message=lambda: f"redis-server on {self.port} to answer PING:\n"
                   + (self.proc.log() if self.proc else ""))

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=REDIS_HOST, port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            wait_until(lambda: not port_open(self.port), timeout=10, message=f"redis port {self.port} to close")


# --- the in-process Celery app -----------------------------------------------------------------


def _reset_celery_pools(app) -> None:
    """Drop the app's cached connection and producer pools (and kombu's global ones, which are
    keyed by broker URL) so the next publish connects with conf as it is now."""
    from kombu import pools

    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    pools.reset()


@contextlib.contextmanager
def celery_broker(url: str, settings) -> Iterator[None]:
    """Make the in-process Celery app (the one the ingest view publishes with) use `url`.

    Celery's `conf.broker_url` is read from the CELERY_BROKER_URL *environment variable* first
    (celery.app.utils.Settings.broker_url), so with that variable set (as `make test-services`
    does) assigning `app.conf.broker_url` alone changes nothing: the environment is switched too.
    """
    from lineage_project.celery import app

    saved_env = os.environ.get("CELERY_BROKER_URL")
    saved_conf = app.conf.get("broker_url")
    settings.CELERY_BROKER_URL = url
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    _reset_celery_pools(app)
    try:
        wanted = urlsplit(url)
        with app.connection_for_write() as conn:
            actual = (conn.transport_cls, conn.hostname, conn.port, str(conn.virtual_host))
            assert app.conf.broker_url == url and actual == (wanted.scheme, wanted.hostname, wanted.port,
                                                             wanted.path.lstrip("/") or "0"), actual
        yield
    finally:
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        app.conf.broker_url = saved_conf
        _reset_celery_pools(app)


def queue_length(redis_url: str, queue: str = "celery") -> int:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        return int(client.llen(queue))
    finally:
        client.close()


# --- a TCP proxy that can cut the database off ---------------------------------------------------


class TcpProxy:
    """Forward 127.0.0.1:port to target. `stop()` closes the listening socket and every live
    connection (both sides), as a database host going away would; `start()` listens again on the
    same port."""

    def __init__(self, target: tuple[str, int], port: int | None = None):
        self.target = target
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.accepted = 0

    def start(self) -> None:
        with self._lock:
            assert self._listener is None, "proxy already listening"
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        t = threading.Thread(target=self._accept_loop, args=(listener,), name=f"proxy-accept-{self.port}", daemon=True)
        t.start()
        self._threads.append(t)

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # listener closed by stop()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
            with self._lock:
                self._sockets.discard(src)
                self._sockets.discard(dst)

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            live, self._sockets = list(self._sockets), set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for s in live:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        for t in self._threads:
            t.join(timeout=5)
        self._threads = [t for t in self._threads if t.is_alive()]


# --- the official OpenLineage client and our custom facets ----------------------------------------
# The custom facets as client classes are the demo's (catalog.demo): one definition for both.



class StatusRecorder:
    """A requests session hook recording, for every final response the client received, its
    status and the Content-Encoding the request was sent with."""

    def __init__(self) -> None:
        self.responses: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    @property
    def statuses(self) -> list[int]:
        return [status for status, _ in self.responses]

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self.lock:
            self.responses.append((response.status_code, response.request.headers.get("Content-Encoding", "")))


def ol_client(url: str, api_key: str, *, compression: str | None = None, timeout: float = 10.0,
              recorder: StatusRecorder | None = None, retry: dict | None = None) -> OpenLineageClient:
    """The official client with its HTTP transport as a workload would configure it."""
    session = requests.Session()
    if recorder is not None:
        session.hooks["response"].append(recorder)
    kwargs: dict[str, Any] = {}
    if retry is not None:
        kwargs["retry"] = retry
    config = HttpConfig(
        url=url,
        endpoint="api/v1/lineage",
        timeout=timeout,
        auth=ApiKeyTokenProvider({"apiKey": api_key}),
        compression=HttpCompression(compression) if compression else None,
        session=session,
        **kwargs,
    )
    return OpenLineageClient(transport=HttpTransport(config))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
