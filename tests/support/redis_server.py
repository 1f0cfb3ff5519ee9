"""A real, throwaway redis-server on a free loopback port, for integration tests.

    with RedisServer() as server:        # started, PING answered
        url = server.url                 # redis://127.0.0.1:<port>/0
        server.kill()                    # SIGKILL: connections reset, nothing answers
        server.start()                   # back on the SAME port, empty (no persistence)
        server.pause(); server.resume()  # SIGSTOP / SIGCONT: a server that hangs

A missing redis-server binary is an error (RedisServerNotInstalled), never a reason to skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

_CANDIDATES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServerNotInstalled(RuntimeError):
    pass


class RedisServerError(RuntimeError):
    pass


def find_redis_server() -> str:
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    found = found or next((c for c in _CANDIDATES if os.access(c, os.X_OK)), None)
    if not found:
        raise RedisServerNotInstalled(
            "redis-server is not installed (looked on PATH, in /usr/bin and /usr/local/bin, and "
            "$REDIS_SERVER); the store's Redis tests need it: apt-get install redis-server"
        )
    return found


class RedisServer:
    def __init__(self, port: int | None = None, *, startup_timeout: float = 5.0) -> None:
        self.binary = find_redis_server()
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.startup_timeout = startup_timeout
        self._dir = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> RedisServer:
        """Start (or restart) on this server's port and wait until PING answers."""
        if self.running:
            raise RedisServerError(f"redis-server on port {self.port} is already running")
        log = self._dir / "redis.log"
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._dir),
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        with open(log, "ab") as out:
            self._proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while not self._answers_ping():
            if self._proc.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited with {self._proc.returncode} on port {self.port}:\n"
                    + log.read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RedisServerError(
                    f"redis-server on port {self.port} did not answer PING within "
                    f"{self.startup_timeout:g}s"
                )
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM), SIGKILL if it takes more than 5 s."""
        if self._proc is None:
            return
        self.resume()
        self._proc.terminate()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None

    def kill(self) -> None:
        """Abrupt death (SIGKILL): what a crash or an OOM kill looks like to clients."""
        if self._proc is None:
            return
        self._proc.kill()
        self._proc.wait(5)
        self._proc = None

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a hung server)."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False
