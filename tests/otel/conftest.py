"""Fixtures for the OTel tests: a real Arize Phoenix collector (session-scoped, loopback only).

Under CI (``CI`` set) they never skip. Elsewhere, tests that use ``phoenix`` are skipped
when ``arize-phoenix`` is not installed or when ``LGTRACE_SKIP_PHOENIX=1``; select or
deselect them with ``-m phoenix_e2e`` / ``-m "not phoenix_e2e"``.
(Not ``phoenix``: that marker belongs to arize-phoenix-client's pytest plugin, which records
marked tests as Phoenix experiments. Run pytest with ``-p no:phoenix`` to keep that plugin,
which imports the whole Phoenix server package at start-up, out of the test process.)
``LGTRACE_PHOENIX_STARTUP_TIMEOUT`` (seconds, default 120) bounds the wait for the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from lgtrace.testing.phoenix import PhoenixServer, PhoenixStartupError, phoenix_installed, start_phoenix

_started: list[PhoenixServer] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "phoenix_e2e: end-to-end test against a real Arize Phoenix server (slow start)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "phoenix" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.phoenix_e2e)


@pytest.fixture(scope="session")
def phoenix() -> Iterator[PhoenixServer]:
    """A ``phoenix serve`` on free 127.0.0.1 ports with a throw-away working dir and SQLite DB.

    Attributes: ``base_url``, ``otlp_traces_endpoint``, ``otlp_grpc_endpoint``, ``log_path``,
    ``startup_seconds``; methods ``spans(project_name, min_count, timeout, **filters)`` (polls),
    ``fetch_spans(project_name, **filters)`` (no wait), ``projects()``, ``log_tail()``.
    The server is shared by the whole session: give each test its own project
    (see ``phoenix_project``).
    """
    in_ci = bool(os.environ.get("CI"))
    if os.environ.get("LGTRACE_SKIP_PHOENIX", "").strip().lower() in {"1", "true", "yes"} and not in_ci:
        pytest.skip("LGTRACE_SKIP_PHOENIX is set")
    if not phoenix_installed():
        if in_ci:  # the test command installs it: never let CI skip the end-to-end test
            pytest.fail("arize-phoenix is not installed; install the [test] extra")
        pytest.skip("arize-phoenix is not installed (pip install 'arize-phoenix>=20')")
    timeout = float(os.environ.get("LGTRACE_PHOENIX_STARTUP_TIMEOUT", "120"))
    failure: PhoenixStartupError | None = None
    try:
        server = start_phoenix(startup_timeout=timeout)
    except PhoenixStartupError as error:
        failure = error
    if failure is not None:
        pytest.fail(f"could not start Phoenix: {failure}", pytrace=False)
    _started.append(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def phoenix_project(request: pytest.FixtureRequest) -> str:
    """A project name unique to this test, for the ``openinference.project.name`` resource attribute."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:
    for server in _started:
        terminalreporter.write_line(  # type: ignore[attr-defined]
            f"Phoenix collector: ready in {server.startup_seconds:.1f}s on {server.base_url}"
        )
