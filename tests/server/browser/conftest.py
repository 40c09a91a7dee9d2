"""Fixtures for the browser tests: Debian's headless ``chromium`` driven by Selenium through
Debian's ``chromium-driver`` (nothing downloads a browser or a driver), ``lgtrace serve`` on
the test project in ``project/``, and the official ``@langchain/langgraph-sdk`` JS client
bundled by esbuild (both from ``package-lock.json``; ``.ci/run`` runs ``npm ci``).

Missing chromium, chromedriver, selenium, node or the npm packages skip these tests locally,
and fail them under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "project"
REPO = HERE.parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
TOKEN_DELAY = 0.03  # seconds between two streamed words of the test model (project/agent.py)


def require(condition: object, why: str) -> None:
    """Skip when a tool is missing, except under CI, where the run must have installed it."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI=true: .ci/run must install it)", pytrace=False)
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_ok(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lgtrace serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/ok", timeout=1) as r:
            if json.loads(r.read()).get("ok") is True:
                return
        time.sleep(0.05)
    raise RuntimeError(f"lgtrace serve did not answer /ok within {timeout}s:\n{log.read_text()[-4000:]}")


# ---- the browser ------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="session")
def driver() -> Iterator:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        require(False, "selenium is not installed (the test extra)")
    chromium, chromedriver = _chromium(), shutil.which("chromedriver")
    require(chromium, "Debian's chromium is not installed (apt-get install chromium)")
    require(chromedriver, "Debian's chromedriver is not installed (apt-get install chromium-driver)")

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--window-size=1280,900",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # both paths given: Selenium Manager is never asked to find or download anything
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=chromedriver))
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def browser_log(drv) -> str:
    with contextlib.suppress(Exception):
        return "\n".join(f"{e.get('level')}: {e.get('message')}" for e in drv.get_log("browser"))
    return ""


# ---- the official JS client, bundled --------------------------------------------------------


@pytest.fixture(scope="session")
def client_page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``client_page.html`` and its esbuild bundle of ``client_page.js``."""
    node = shutil.which("node")
    require(node, "node is not installed (apt-get install nodejs npm)")
    esbuild = HERE / "node_modules" / ".bin" / "esbuild"
    sdk = HERE / "node_modules" / "@langchain" / "langgraph-sdk" / "package.json"
    if not (esbuild.exists() and sdk.exists()) and shutil.which("npm") and not IN_CI:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=False, capture_output=True, timeout=300
        )
    require(esbuild.exists() and sdk.exists(), "npm packages missing: run `npm ci` in tests/server/browser")
    out = tmp_path_factory.mktemp("client_page")
    build = subprocess.run(
        [
            str(esbuild),
            "client_page.js",
            "--bundle",
            "--format=iife",
            "--platform=browser",
            "--target=es2020",
            f"--outfile={out / 'client_page.bundle.js'}",
            "--log-level=warning",
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    shutil.copy(HERE / "client_page.html", out / "client_page.html")
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def page_origin(client_page_dir: Path) -> Iterator[str]:
    """Serves the bundled page from another origin than the server's (so CORS is exercised)."""
    handler = functools.partial(_QuietHandler, directory=str(client_page_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="client-page-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


# ---- lgtrace serve ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lgtrace_server(tmp_path_factory: pytest.TempPathFactory, page_origin: str) -> Iterator[str]:
    """``python -m lgtrace.server`` on the test project, on a free port; yields its base URL."""
    tmp = tmp_path_factory.mktemp("lgtrace_serve")
    log = tmp / "server.log"
    port = free_port()
    env = {**os.environ, "LGTRACE_BROWSER_TOKEN_DELAY": str(TOKEN_DELAY), "PYTHONUNBUFFERED": "1"}
    env.pop("LGTRACE_CORS_ORIGINS", None)
    env.pop("LGTRACE_API_KEY", None)
    cmd = [
        sys.executable,
        "-m",
        "lgtrace.server",
        "--config",
        str(PROJECT / "langgraph.json"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        str(tmp / "threads.sqlite"),
        "--cors-origin",
        page_origin,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_ok(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
