"""A real ``lgtrace serve`` process on 127.0.0.1 (a free port, a temp SQLite file), serving
``tests/server/project/langgraph.json``; stopped after the tests that use it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PROJECT = Path(__file__).parent / "project"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "lgtrace.server", "--config", str(PROJECT / "langgraph.json")]
        args += ["--port", str(self.port), "--db", str(tmp / "checkpoints.sqlite"), *extra]
        self.log = tmp / f"serve-{self.port}.log"  # a file: a pipe nobody reads would block the server
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                args, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT, text=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lgtrace serve exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/ok", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("lgtrace serve did not start in 30 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("serve"), "--max-body", "100000")
    yield srv
    srv.stop()
