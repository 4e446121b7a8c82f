"""A TCP proxy on 127.0.0.1 for outage tests: forwards to a target port, and can be switched to refuse every
connection (nothing listens: the client gets "connection refused") or to accept and never answer (a silent
server), then back. Plain threads, so it serves in-process tests and child processes alike."""
from __future__ import annotations

import contextlib
import socket
import threading


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlakyProxy:
    def __init__(self, target_port: int, *, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self.mode = "down"
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._accept_thread: threading.Thread | None = None

    def url(self, scheme: str, path: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    # -- switching ----------------------------------------------------------------------------------------
    def forward(self) -> FlakyProxy:
        """Accept and forward to the target."""
        self._listen("forward")
        return self

    def silent(self) -> FlakyProxy:
        """Accept connections and never answer (nor close them)."""
        self._listen("silent")
        return self

    def refuse(self) -> FlakyProxy:
        """Stop listening and cut every open connection: new connects are refused."""
        with self._lock:
            self.mode = "down"
            listener, self._listener = self._listener, None
            open_now, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=2)
            self._accept_thread = None
        for s in open_now:
            _close(s)
        return self

    def close(self) -> None:
        self.refuse()

    def _listen(self, mode: str) -> None:
        with self._lock:
            self.mode = mode
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            listener.settimeout(0.1)
            self._listener = listener
        self._accept_thread = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._accept_thread.start()

    # -- serving ------------------------------------------------------------------------------------------
    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._sockets.add(client)
                mode = self.mode
            if mode == "silent":
                continue  # held open, never read, never answered
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets.add(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

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
                with self._lock:
                    self._sockets.discard(s)
                _close(s)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()
