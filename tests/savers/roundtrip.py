"""One checkpoint (with a pending write) through a saver and back, sync and async."""

from __future__ import annotations

import uuid
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, empty_checkpoint


def _checkpoint(saver: BaseCheckpointSaver[Any]) -> tuple[Checkpoint, dict[str, Any]]:
    version = saver.get_next_version(None, None)
    cp = empty_checkpoint()
    cp["channel_values"] = {"messages": ["hello", {"role": "ai", "content": "hi"}], "n": 3}
    cp["channel_versions"] = {"messages": version, "n": version}
    cp["versions_seen"] = {"node": {"messages": version}}
    return cp, {"messages": version, "n": version}


def _config() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4().hex}", "checkpoint_ns": ""}}


def _check(tup: Any, cp: Checkpoint, saved: dict[str, Any]) -> None:
    assert tup is not None
    assert tup.config["configurable"]["checkpoint_id"] == cp["id"] == saved["configurable"]["checkpoint_id"]
    assert tup.checkpoint["id"] == cp["id"]
    assert tup.checkpoint["channel_values"] == cp["channel_values"]
    assert tup.checkpoint["channel_versions"] == cp["channel_versions"]
    assert tup.metadata["step"] == 0
    assert tup.metadata["source"] == "loop"
    assert [(w[0], w[1], w[2]) for w in tup.pending_writes] == [("task-1", "n", 4)]


def roundtrip(saver: BaseCheckpointSaver[Any]) -> None:
    cp, versions = _checkpoint(saver)
    config = _config()
    saved = saver.put(config, cp, {"source": "loop", "step": 0, "parents": {}}, versions)
    saver.put_writes(saved, [("n", 4)], task_id="task-1")
    _check(saver.get_tuple(saved), cp, saved)
    # the latest checkpoint of the thread, without a checkpoint_id
    _check(saver.get_tuple(config), cp, saved)
    assert [t.checkpoint["id"] for t in saver.list(config)] == [cp["id"]]


async def aroundtrip(saver: BaseCheckpointSaver[Any]) -> None:
    cp, versions = _checkpoint(saver)
    config = _config()
    saved = await saver.aput(config, cp, {"source": "loop", "step": 0, "parents": {}}, versions)
    await saver.aput_writes(saved, [("n", 4)], task_id="task-1")
    _check(await saver.aget_tuple(saved), cp, saved)
    _check(await saver.aget_tuple(config), cp, saved)
    assert [t.checkpoint["id"] async for t in saver.alist(config)] == [cp["id"]]
