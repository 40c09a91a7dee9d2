"""LangGraph's SQLite savers, through lgtrace's re-exports, on a real file."""

from __future__ import annotations

from pathlib import Path

from lgtrace.checkpoint.sqlite import SqliteSaver
from lgtrace.checkpoint.sqlite.aio import AsyncSqliteSaver
from tests.savers.roundtrip import aroundtrip, roundtrip


def test_sqlite_saver_roundtrip_on_file(tmp_path: Path) -> None:
    db = tmp_path / "checkpoints.sqlite"
    with SqliteSaver.from_conn_string(str(db)) as saver:
        roundtrip(saver)
    assert db.stat().st_size > 0
    # a new connection to the same file sees the thread
    with SqliteSaver.from_conn_string(str(db)) as saver:
        assert len(list(saver.list(None))) == 1


async def test_async_sqlite_saver_roundtrip_on_file(tmp_path: Path) -> None:
    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "checkpoints.sqlite")) as saver:
        await aroundtrip(saver)
