"""One PostgreSQL thread, two processes (issue #10): process 1 runs turn 1 of a chat,
process 2 (another interpreter, sharing nothing with process 1 but the database) runs
turn 2 and reports the thread's state and history as it reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _turn(url: str, thread_id: str, text: str, *report: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.checkpoint.pg_turn", url, thread_id, text, *report],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_turn_2_in_another_process_sees_turn_1(postgres_url: str) -> None:
    thread_id = f"chat-{uuid.uuid4()}"
    first = _turn(postgres_url, thread_id, "hello")
    assert [(m["type"], m["content"]) for m in first["output"]] == [
        ("human", "hello"),
        ("ai", "reply 1 to hello"),
    ]

    second = _turn(postgres_url, thread_id, "how are you", "--report")
    assert len({first["pid"], second["pid"], os.getpid()}) == 3

    # process 2 continued the conversation process 1 saved: the same messages (same ids)
    turn1 = first["output"]
    got = second["state"]["messages"]
    assert got[:2] == turn1
    assert [(m["type"], m["content"]) for m in got[2:]] == [
        ("human", "how are you"),
        ("ai", "reply 3 to how are you"),
    ]
    assert second["output"] == got
    assert second["state"]["next"] == []

    # and the whole history, both turns, newest first, one unbroken chain
    hist = second["history"]
    assert [(h["step"], h["source"], h["next"]) for h in hist] == [
        (4, "loop", []),
        (3, "loop", ["bot"]),
        (2, "input", ["__start__"]),
        (1, "loop", []),
        (0, "loop", ["bot"]),
        (-1, "input", ["__start__"]),
    ]
    assert [len(h["messages"]) for h in hist] == [4, 3, 2, 2, 1, 0]
    assert hist[3]["messages"] == turn1
    assert [h["parent_id"] for h in hist] == [h["checkpoint_id"] for h in hist[1:]] + [None]
    assert hist[0]["checkpoint_id"] == second["state"]["checkpoint_id"]
