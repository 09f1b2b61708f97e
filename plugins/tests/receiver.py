"""A tiny OpenLineage receiver: stdlib HTTP server in a thread, records events.

It answers ``POST /api/v1/lineage`` like the real server's endpoint (201 with
an empty JSON body), and can be told to answer another status to simulate a
failing server. Every request is recorded (path, headers, parsed body).
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with receiver._lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = receiver.status
                payload = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    @property
    def events(self) -> list[dict]:
        with self._lock:
            return [r["body"] for r in self.requests if r["path"] == "/api/v1/lineage"]

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # manual use: python tests/receiver.py
    import time

    r = Receiver().start()
    print(r.url, flush=True)
    try:
        while True:
            time.sleep(1)
            for e in r.events:
                print(json.dumps(e))
            r.clear()
    except KeyboardInterrupt:
        r.stop()
