"""The postgres_url fixture serves a real PostgreSQL that LangGraph's savers work against."""

from __future__ import annotations

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from tests.savers.roundtrip import aroundtrip, roundtrip


def test_url_is_loopback(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://") and "@127.0.0.1:" in postgres_url


def test_postgres_saver_roundtrip(postgres_url: str) -> None:
    with PostgresSaver.from_conn_string(postgres_url) as saver:
        saver.setup()
        roundtrip(saver)


async def test_async_postgres_saver_roundtrip(postgres_url: str) -> None:
    async with AsyncPostgresSaver.from_conn_string(postgres_url) as saver:
        await saver.setup()
        await aroundtrip(saver)
