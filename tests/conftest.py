"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pgserver import PgServer, find_bindir


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL database on 127.0.0.1, one server for the session.

    Skips when no PostgreSQL server binaries are installed; under CI=true that fails
    instead (``.ci/run`` installs Debian's ``postgresql`` package).
    """
    bindir = find_bindir()
    if bindir is None:
        msg = (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres, createdb) not found via "
            "pg_config --bindir, /usr/lib/postgresql/*/bin or PATH; install them: apt-get install postgresql"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    server = PgServer(bindir).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[object]:
    """A throwaway ``redis-server`` on 127.0.0.1 for the session (skips without one; fails under
    CI=true, where ``.ci/run`` installs Debian's ``redis-server``)."""
    from tests.redisserver import RedisServer, find_redis

    binary = find_redis()
    if binary is None:
        msg = "redis-server not found; install it: apt-get install redis-server"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    server = RedisServer(binary).start()
    try:
        yield server
    finally:
        server.close()
