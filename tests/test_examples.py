"""Every example runs offline and prints what LangGraph's docs say it prints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, extra_env: dict[str, str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_"))}
    env["LGTRACE_DEMO_DELAY"] = "0"
    env.update(extra_env or {})
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=EXAMPLES,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_stream_tokens_headline() -> None:
    out = run_example("stream_tokens.py")
    every, rest = out.split("== only write_poem")
    assert "[write_joke] 'Why'" in every and "[write_poem] 'Soft'" in every
    only_poem, rest = rest.split("== async")
    assert "Soft| paws| on| the| windowsill,|" in only_poem and "Why" not in only_poem
    joke_only, metadata = rest.split("== metadata of the last chunk")
    assert "Why| did| the| cat|" in joke_only and "Soft" not in joke_only
    for key in (
        "langgraph_node: 'call_model'",
        "langgraph_step: 1",
        "ls_provider: 'openai'",
        "tags: ['poem']",
    ):
        assert key in metadata


def test_stream_modes() -> None:
    out = run_example("stream_modes.py")
    values = out.split("== stream_mode='values'")[1].split("== stream_mode='updates'")[0]
    assert values.strip().splitlines() == [
        "{'topic': 'ice cream'}",
        "{'topic': 'ice cream and cats'}",
        "{'topic': 'ice cream and cats', 'joke': 'This is a joke about ice cream and cats'}",
    ]
    assert "{'refine_topic': {'topic': 'ice cream and cats'}}" in out
    assert "'type': 'task_result'" in out and "'triggers': ('branch:to:generate_joke',)" in out
    assert "Stream mode: custom\n{'custom_key': 'Writing custom data while generating a joke'}" in out


def test_subgraphs() -> None:
    out = run_example("subgraphs.py")
    parent, nested = out.split("== subgraphs=True")
    assert "{'node_2': {'foo': 'hi! foobar'}}" in parent and "subgraph_node_1" not in parent
    lines = nested.strip().splitlines()
    assert lines[0] == "((), {'node_1': {'foo': 'hi! foo'}})"
    assert lines[1].startswith("(('node_2:") and "{'subgraph_node_1': {'bar': 'bar'}}" in lines[1]
    assert lines[3] == "((), {'node_2': {'foo': 'hi! foobar'}})"


def test_without_langchain() -> None:
    out = run_example("without_langchain.py")
    assert "Why| did| the| cat|" in out
    assert "node='call_model' tags=['poem']" in out
    only_poem = out.split("== only the poem")[1]
    assert "Soft| paws|" in only_poem and "Why" not in only_poem


def test_tool_streaming() -> None:
    out = run_example("tool_streaming.py")
    custom, tokens = out.split("== LLM tokens")
    assert [line for line in custom.splitlines() if line.startswith("{")] == [
        "{'custom_tool_data': 'books'}",
        "{'custom_tool_data': 'pencils'}",
        "{'custom_tool_data': 'pictures'}",
    ]
    assert "Books:| stories| to| read,|" in tokens


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("[!_]*.py")))
def test_every_example_has_a_test(name: str) -> None:
    assert f"test_{name.removesuffix('.py')}" in globals() or name == "stream_tokens.py"


def test_otel_tracing() -> None:
    out = run_example("otel_tracing.py")
    tree = out.split("span tree as stored by Phoenix")[1].splitlines()[1:]
    assert [line.split("  (")[0] for line in tree] == [
        "invoke_workflow office_agent",
        "  agent",
        "    chat gpt-4o-mini",
        "  tools",
        "    execute_tool get_items",
        "  agent",
        "    chat gpt-4o-mini",
    ]
    assert "(LLM)" in tree[2] and "(TOOL)" in tree[4]
    # streamed calls (messages mode) with token counts (stream_usage) and time to first chunk
    assert all(" tokens, first chunk after " in tree[i] for i in (2, 6)), tree
    assert "7 of 7 spans exported to http://127.0.0.1:" in out


def test_otel_tracing_with_the_collector_down() -> None:
    """A collector that is down: said (spans dropped, how many, why), and the exit is not held."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "LGTRACE_OTLP_EXIT_TIMEOUT": "0.5"}
    started = time.monotonic()
    out = run_example("otel_tracing.py", env)
    elapsed = time.monotonic() - started
    assert "answer: You might find books, pencils, pictures there." in out
    assert f"7 of 7 spans dropped, not exported to http://127.0.0.1:{port}/v1/traces" in out
    assert "Connection refused" in out and "exported to" not in out.replace("not exported to", "")
    # the SDK alone held this exit ~15 s (retries of the spans, then of the metrics)
    assert elapsed < 10, f"the example took {elapsed:.1f} s with LGTRACE_OTLP_EXIT_TIMEOUT=0.5"


def test_persistence() -> None:
    out = run_example("persistence.py")
    turn2 = out.split("== turn 2")[1].split("== state")[0]
    assert "Your name is Ada." in turn2  # the second turn saw the first, through the SQLite file
    assert "checkpoint step=2 source=input next=['__start__']" in turn2
    assert "checkpoint step=4 source=loop next=[]" in turn2
    history = out.split("== history (newest first)")[1].split("==")[0].strip().splitlines()
    assert [line.split(" source")[0].strip() for line in history] == [
        f"step={s:>2}" for s in (4, 3, 2, 1, 0, -1)
    ]
    assert "== 6 checkpoints in threads.sqlite" in out


def test_human_in_the_loop() -> None:
    out = run_example("human_in_the_loop.py")
    run1, rest = out.split("== run 2")
    assert "paused: run this tool call? {'place': 'bedroom'}" in run1
    assert "== waiting at ('review',) with 1 interrupt" in run1
    assert "[tools]" not in run1  # nothing ran past the review
    assert "[tools] 'pans, knives, spices'" in rest  # the edited argument reached the tool
    assert "[agent] ' might'" in rest  # the model's answer streamed token by token
    assert "== tool result: pans, knives, spices" in rest and "== next: ()" in rest


def test_functional_api() -> None:
    out = run_example("functional_api.py")
    run1, rest = out.split("== run 2")
    assert "[write] ' paws'" in run1  # tokens from inside a task, named after it
    assert "{'title': 'Plain: Soft'}" in run1 and "{'title': 'Fancy: Soft'}" in run1
    assert "== waiting at ('poem_workflow',) for: {'pick a title': ['Plain: Soft', 'Fancy: Soft']}" in run1
    run2, run3 = rest.split("== run 3")
    assert "'title': 'Fancy: a cat poem'" in run2 and "'runs before': 0" in run2
    assert "== calls: {'title:fancy': 1, 'title:plain': 1, 'write': 1}" in run2  # nothing ran twice
    assert "'runs before': 1" in run3
