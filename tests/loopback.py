"""The lifecycle shared by the loopback fakes (CT.gov, E-utilities, Slack): a ``ThreadingHTTPServer`` on
127.0.0.1 at a random port, in a daemon thread; ``start`` / ``stop``, ``with fake:`` and ``port``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout test) is not a test failure: no traceback on stderr."""


class LoopbackServer:
    """A subclass names its request handler (``handler_class``, bound to the fake) and may replace
    ``server_class``; ``start`` returns the fake, so ``fake = FakeX().start()`` and ``with FakeX() as fake`` work."""

    server_class: type[ThreadingHTTPServer] = QuietServer
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        server = self.server_class(("127.0.0.1", 0), self.handler_class())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, f"{type(self).__name__} is not started"
        return int(self._server.server_address[1])
