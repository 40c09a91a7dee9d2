"""Bad input to a graph with a checkpointer (issue #10): a clear error, and nothing saved.

On a real SQLite file (``SqliteSaver``; ``AsyncSqliteSaver`` for the async calls):

- no ``thread_id`` in the config: a ``ValueError`` naming ``thread_id``;
- an unknown ``checkpoint_id`` to run from: a ``ValueError`` naming the id and the thread;
- ``update_state`` with a key the state does not have, or ``as_node`` naming no node:
  ``InvalidUpdateError`` naming it;
- a thread written by another version of the graph (a key removed, a node renamed):
  ``IncompatibleCheckpoint`` (a ``ValueError``) naming the channel.

In each case the saver holds exactly what it held before (checkpoints and writes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from lgtrace.checkpoint.format import IncompatibleCheckpoint
from lgtrace.checkpoint.sqlite import SqliteSaver
from lgtrace.checkpoint.sqlite.aio import AsyncSqliteSaver
from lgtrace.errors import InvalidUpdateError
from lgtrace.graph import END, START

from .graphs import asaved, cfg, chain, graph_ab, graph_ac, graph_x, graph_xy, saved, sqlite_conn


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "threads.sqlite"


@pytest.fixture
def saver(db: Path) -> Iterator[SqliteSaver]:
    conn = sqlite_conn(db)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


@asynccontextmanager
async def async_saver(db: Path) -> AsyncIterator[AsyncSqliteSaver]:
    conn = await aiosqlite.connect(str(db))
    try:
        yield AsyncSqliteSaver(conn)
    finally:
        await conn.close()


def _ids(saver: Any, thread_id: str) -> list[str]:
    return [t.config["configurable"]["checkpoint_id"] for t in saver.list(cfg(thread_id))]


# --------------------------------------------------------------------------- no thread_id

NO_THREAD = {
    "no config": None,
    "empty config": {},
    "no configurable keys": {"configurable": {}},
    "thread_id None": {"configurable": {"thread_id": None}},
    "checkpoint_id only": {"configurable": {"checkpoint_id": "1ef00000-0000-6000-8000-000000000000"}},
    "other keys only": {"configurable": {"user": "u1"}, "metadata": {"m": 1}},
}

SYNC_CALLS: dict[str, Callable[[Any, Any], Any]] = {
    "stream": lambda g, c: list(g.stream({"x": 1}, c)),
    "stream None": lambda g, c: list(g.stream(None, c)),
    "invoke": lambda g, c: g.invoke({"x": 1}, c),
    "get_state": lambda g, c: g.get_state(c),
    "get_state_history": lambda g, c: list(g.get_state_history(c)),
    "update_state": lambda g, c: g.update_state(c, {"x": 2}),
    "update_state as_node": lambda g, c: g.update_state(c, {"x": 2}, as_node="n1"),
}


async def _drain(agen: Any) -> list[Any]:
    return [x async for x in agen]


ASYNC_CALLS: dict[str, Callable[[Any, Any], Any]] = {
    "astream": lambda g, c: _drain(g.astream({"x": 1}, c)),
    "ainvoke": lambda g, c: g.ainvoke({"x": 1}, c),
    "aget_state": lambda g, c: g.aget_state(c),
    "aget_state_history": lambda g, c: _drain(g.aget_state_history(c)),
    "aupdate_state": lambda g, c: g.aupdate_state(c, {"x": 2}),
}


@pytest.mark.parametrize("config", list(NO_THREAD.values()), ids=list(NO_THREAD))
@pytest.mark.parametrize("call", list(SYNC_CALLS), ids=list(SYNC_CALLS))
def test_no_thread_id(saver: SqliteSaver, call: str, config: Any) -> None:
    g = chain(saver, 2)
    g.invoke({"x": 1}, cfg("existing"))
    before = saved(saver)
    with pytest.raises(ValueError, match=r"thread_id") as err:
        SYNC_CALLS[call](g, config)
    assert "configurable" in str(err.value)
    assert saved(saver) == before


@pytest.mark.parametrize("config", list(NO_THREAD.values()), ids=list(NO_THREAD))
@pytest.mark.parametrize("call", list(ASYNC_CALLS), ids=list(ASYNC_CALLS))
async def test_no_thread_id_async(db: Path, call: str, config: Any) -> None:
    async with async_saver(db) as saver:
        g = chain(saver, 2)
        await g.ainvoke({"x": 1}, cfg("existing"))
        before = await asaved(saver)
        with pytest.raises(ValueError, match=r"thread_id"):
            await ASYNC_CALLS[call](g, config)
        assert await asaved(saver) == before


# --------------------------------------------------------------------------- unknown checkpoint_id

RUNS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "stream": lambda g, value, c: list(g.stream(value, c, stream_mode=["values", "updates", "checkpoints"])),
    "invoke": lambda g, value, c: g.invoke(value, c),
}
ARUNS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "astream": lambda g, value, c: _drain(g.astream(value, c, stream_mode=["values", "checkpoints"])),
    "ainvoke": lambda g, value, c: g.ainvoke(value, c),
}


def _unknown_ids(saver: Any) -> dict[str, tuple[str, str]]:
    """(thread, checkpoint id) pairs naming no checkpoint of that thread."""
    other = _ids(saver, "other")[0]
    return {
        "never saved": ("t", "1ef7a3c2-0000-6000-8000-000000000000"),
        "not a uuid": ("t", "no-such-checkpoint"),
        "another thread's": ("t", other),
        "thread without checkpoints": ("nobody", _ids(saver, "t")[0]),
    }


@pytest.mark.parametrize("value", [{"x": 5}, None], ids=["input", "continue"])
@pytest.mark.parametrize("call", list(RUNS))
def test_unknown_checkpoint_id(saver: SqliteSaver, call: str, value: Any) -> None:
    g = chain(saver, 2)
    g.invoke({"x": 1}, cfg("t"))
    g.invoke({"x": 2}, cfg("other"))
    before = saved(saver)
    for label, (thread_id, checkpoint_id) in _unknown_ids(saver).items():
        with pytest.raises(ValueError) as err:
            RUNS[call](g, value, cfg(thread_id, checkpoint_id=checkpoint_id))
        message = str(err.value)
        assert repr(checkpoint_id) in message, label
        assert repr(thread_id) in message, label
        assert saved(saver) == before, label


def test_unknown_checkpoint_id_streams_nothing(saver: SqliteSaver) -> None:
    g = chain(saver, 2)
    g.invoke({"x": 1}, cfg("t"))
    events: list[Any] = []
    with pytest.raises(ValueError, match="no-such-checkpoint"):
        for ev in g.stream(None, cfg("t", checkpoint_id="no-such-checkpoint"), stream_mode="debug"):
            events.append(ev)
    assert events == []


@pytest.mark.parametrize("value", [{"x": 5}, None], ids=["input", "continue"])
@pytest.mark.parametrize("call", list(ARUNS))
async def test_unknown_checkpoint_id_async(db: Path, call: str, value: Any) -> None:
    async with async_saver(db) as saver:
        g = chain(saver, 2)
        await g.ainvoke({"x": 1}, cfg("t"))
        await g.ainvoke({"x": 2}, cfg("other"))
        before = await asaved(saver)
        other = (await asaved(saver, cfg("other")))[0][0]
        for thread_id, checkpoint_id in [("t", "no-such-checkpoint"), ("t", other), ("nobody", other)]:
            with pytest.raises(ValueError) as err:
                await ARUNS[call](g, value, cfg(thread_id, checkpoint_id=checkpoint_id))
            assert repr(checkpoint_id) in str(err.value)
            assert repr(thread_id) in str(err.value)
            assert await asaved(saver) == before


# --------------------------------------------------------------------------- update_state

BAD_KEYS = [
    pytest.param({"zzz": 1}, None, "t", id="inferred node"),
    pytest.param({"zzz": 1}, "n1", "t", id="named node"),
    pytest.param({"x": 50, "zzz": 1}, "n2", "t", id="good and bad keys"),
    pytest.param({"zzz": 1}, START, "t", id="START"),
    pytest.param({"zzz": 1}, None, "fresh", id="empty thread"),
]


@pytest.mark.parametrize(("values", "as_node", "thread_id"), BAD_KEYS)
def test_update_state_unknown_key(saver: SqliteSaver, values: Any, as_node: Any, thread_id: str) -> None:
    g = chain(saver, 2)
    g.invoke({"x": 1}, cfg("t"))
    before = saved(saver)
    state_before = g.get_state(cfg(thread_id))
    with pytest.raises(InvalidUpdateError, match=r"'zzz'"):
        g.update_state(cfg(thread_id), values, as_node=as_node)
    assert saved(saver) == before
    assert g.get_state(cfg(thread_id)).values == state_before.values


def test_update_state_unknown_key_on_an_older_checkpoint(saver: SqliteSaver) -> None:
    g = chain(saver, 3)
    g.invoke({"x": 1}, cfg("t"))
    middle = list(g.get_state_history(cfg("t")))[2].config
    before = saved(saver)
    with pytest.raises(InvalidUpdateError, match=r"'zzz'"):
        g.update_state(middle, {"zzz": 1})
    with pytest.raises(InvalidUpdateError, match=r"'nope'"):
        g.update_state(middle, {"x": 1}, as_node="nope")
    assert saved(saver) == before


@pytest.mark.parametrize("as_node", ["nope", END, "N1", ""])
@pytest.mark.parametrize("thread_id", ["t", "fresh"])
def test_update_state_as_node_not_a_node(saver: SqliteSaver, as_node: str, thread_id: str) -> None:
    g = chain(saver, 2)
    g.invoke({"x": 1}, cfg("t"))
    before = saved(saver)
    with pytest.raises(InvalidUpdateError) as err:
        g.update_state(cfg(thread_id), {"x": 3}, as_node=as_node)
    assert repr(as_node) in str(err.value)
    assert saved(saver) == before


async def test_aupdate_state_bad_key_and_node(db: Path) -> None:
    async with async_saver(db) as saver:
        g = chain(saver, 2)
        await g.ainvoke({"x": 1}, cfg("t"))
        before = await asaved(saver)
        with pytest.raises(InvalidUpdateError, match=r"'zzz'"):
            await g.aupdate_state(cfg("t"), {"zzz": 1})
        with pytest.raises(InvalidUpdateError, match=r"'zzz'"):
            await g.aupdate_state(cfg("t"), {"x": 9, "zzz": 1}, as_node="n2")
        with pytest.raises(InvalidUpdateError, match=r"'nope'"):
            await g.aupdate_state(cfg("t"), {"x": 3}, as_node="nope")
        assert await asaved(saver) == before


# --------------------------------------------------------------------------- another graph's thread

B_CALLS: dict[str, Callable[[Any, Any], Any]] = {
    "invoke None": lambda g, c: g.invoke(None, c),
    "invoke input": lambda g, c: g.invoke({"x": 5}, c),
    "stream input": lambda g, c: list(g.stream({"x": 5}, c, stream_mode=["values", "checkpoints"])),
    "stream None": lambda g, c: list(g.stream(None, c)),
    "update_state": lambda g, c: g.update_state(c, {"x": 3}),
    "update_state as_node": lambda g, c: g.update_state(c, {"x": 3}, as_node="a"),
    "get_state": lambda g, c: g.get_state(c),
}


@pytest.mark.parametrize("call", list(B_CALLS))
def test_thread_of_a_graph_with_a_removed_key(saver: SqliteSaver, call: str) -> None:
    a = graph_xy(saver)
    a.invoke({"x": 1}, cfg("t"))
    a.invoke({"x": 2}, cfg("t"))
    before = saved(saver)
    with pytest.raises(IncompatibleCheckpoint, match=r"channel 'y'") as err:
        B_CALLS[call](graph_x(saver), cfg("t"))
    assert isinstance(err.value, ValueError)
    assert saved(saver) == before
    # the thread is intact: graph A goes on with it
    assert a.invoke({"x": 10}, cfg("t")) == {"x": 11, "y": 7}
    assert len(saved(saver, cfg("t"))) == len(before) + 3


@pytest.mark.parametrize("call", ["invoke None", "stream None", "invoke input", "get_state", "update_state"])
def test_thread_of_a_graph_with_a_renamed_node(saver: SqliteSaver, call: str) -> None:
    broken = [True]
    a = graph_ab(saver, broken)
    with pytest.raises(RuntimeError, match="b is broken"):
        a.invoke({"log": ["in"]}, cfg("t"))
    assert a.get_state(cfg("t")).next == ("b",)
    before = saved(saver)
    with pytest.raises(IncompatibleCheckpoint, match=r"channel 'branch:to:b'"):
        B_CALLS[call](graph_ac(saver), cfg("t"))
    assert saved(saver) == before
    broken[0] = False
    assert a.invoke(None, cfg("t")) == {"log": ["in", "a", "b"]}


@pytest.mark.parametrize("call", ["ainvoke", "astream", "aupdate_state", "aget_state"])
async def test_thread_of_another_graph_async(db: Path, call: str) -> None:
    async with async_saver(db) as saver:
        await graph_xy(saver).ainvoke({"x": 1}, cfg("t"))
        before = await asaved(saver)
        b = graph_x(saver)
        with pytest.raises(IncompatibleCheckpoint, match=r"channel 'y'"):
            if call == "ainvoke":
                await b.ainvoke(None, cfg("t"))
            elif call == "astream":
                await _drain(b.astream({"x": 4}, cfg("t")))
            elif call == "aupdate_state":
                await b.aupdate_state(cfg("t"), {"x": 4})
            else:
                await b.aget_state(cfg("t"))
        assert await asaved(saver) == before


def test_new_thread_id_is_the_way_out(saver: SqliteSaver) -> None:
    """The error says what to do: a new thread works with the new graph."""
    graph_xy(saver).invoke({"x": 1}, cfg("t"))
    with pytest.raises(IncompatibleCheckpoint, match="thread_id"):
        graph_x(saver).invoke({"x": 1}, cfg("t"))
    assert graph_x(saver).invoke({"x": 1}, cfg(f"t-{uuid.uuid4()}")) == {"x": 2}
