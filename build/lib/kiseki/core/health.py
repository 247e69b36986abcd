"""`/healthz`, `/readyz` and `/metrics` over HTTP, served from a daemon thread.

Liveness says the process loop is alive; readiness says the service can do its work now
(broker connected, store reachable, ...). Each service flips its readiness as it starts and
stops; Kubernetes probes and the local tools read the same endpoints.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest


class Health:
    """Thread-safe liveness and readiness flags with the reason for the last change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live = True
        self._ready = False
        self._reason = "starting"

    def set_ready(self, ready: bool, reason: str = "") -> None:
        with self._lock:
            self._ready, self._reason = ready, reason

    def set_live(self, live: bool, reason: str = "") -> None:
        with self._lock:
            self._live, self._reason = live, reason

    def snapshot(self) -> tuple[bool, bool, str]:
        with self._lock:
            return self._live, self._ready, self._reason


class HealthServer:
    """The HTTP endpoint; `port=0` picks a free port (see `.port`)."""

    def __init__(
        self, health: Health, host: str, port: int, registry: CollectorRegistry = REGISTRY
    ) -> None:
        handler = type("Handler", (_Handler,), {"health": health, "registry": registry})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    health: ClassVar[Health]
    registry: ClassVar[CollectorRegistry]

    def do_GET(self) -> None:
        live, ready, reason = self.health.snapshot()
        if self.path == "/metrics":
            self._reply(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        elif self.path == "/healthz":
            self._reply(200 if live else 503, (b"ok" if live else reason.encode()), "text/plain")
        elif self.path == "/readyz":
            self._reply(200 if ready else 503, (b"ok" if ready else reason.encode()), "text/plain")
        else:
            self._reply(404, b"not found", "text/plain")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds would drown the JSON log; stay silent."""
