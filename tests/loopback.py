"""The lifecycle every stand-in service of the tests shares (the LLM APIs, TMDB and
MusicBrainz): an HTTP server on 127.0.0.1 at a random port, serving from a daemon thread,
stopped by ``stop()``, by leaving the ``with`` block, or after ``max_seconds`` whatever the
test does, so a test that goes wrong cannot hang or leave a server behind."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackService:
    """Mixin for a dataclass with a ``max_seconds`` field: call ``_serve(handler)`` from its
    ``__post_init__``."""

    max_seconds: float

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(self.max_seconds, self.stop)
        self._timer.daemon = True

    @property
    def host_port(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    def start(self):
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
