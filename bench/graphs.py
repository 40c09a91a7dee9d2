"""Graph definitions, written once and built against either implementation.

Every builder takes an ``Impl`` (see ``bench.impls``) and ``aio``: with
``aio=True`` the nodes are ``async def`` (for ``astream``), otherwise plain
functions (for ``stream``), so neither implementation pays for a thread hop
that the other avoids.
"""

from __future__ import annotations

import asyncio
import dataclasses
import operator
import time
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pydantic
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from bench.impls import Impl
from bench.models import ScriptedToolModel, TokenModel, make_tool, tool_script


def _node(fn: Callable[..., Any], aio: bool) -> Callable[..., Any]:
    """``fn`` itself, or an ``async def`` wrapper around it."""
    if not aio:
        return fn

    async def anode(state: Any) -> Any:
        return fn(state)

    anode.__name__ = getattr(fn, "__name__", "anode")
    return anode


# --------------------------------------------------------------------------- sequential


def _noop(state: Any) -> None:
    return None


async def _anoop(state: Any) -> None:
    return None


def sequential(m: Impl, n_nodes: int, *, aio: bool) -> Any:
    """``START -> node_0 -> ... -> node_{n-1} -> END`` over ``MessagesState``; nodes return ``None``."""
    builder = m.StateGraph(m.MessagesState)
    prev = m.START
    for i in range(n_nodes):
        name = f"node_{i}"
        builder.add_node(name, _anoop if aio else _noop)
        builder.add_edge(prev, name)
        prev = name
    builder.add_edge(prev, m.END)
    return builder.compile()


def sequential_input() -> dict[str, Any]:
    return {"messages": []}


# --------------------------------------------------------------------------- wide state


def _keep_new_or_old(old: Any, new: Any) -> Any:
    return new or old


def _overwrite(old: Any, new: Any) -> Any:
    return new


def _new_if_truthy(old: Any, new: Any) -> Any:
    return new if new else old


def _new_if_not_none(old: Any, new: Any) -> Any:
    return new if new is not None else old


# (key, annotation, default factory or default). 15 keys, 11 of them with a reducer.
_WIDE_FIELDS: tuple[tuple[str, Any, Any], ...] = (
    ("messages", Annotated[list, operator.add], list),
    ("trigger_events", Annotated[list, operator.add], list),
    ("primary_issue_medium", Annotated[str, _keep_new_or_old], "email"),
    ("autoresponse", Annotated[dict | None, _overwrite], None),
    ("issue", Annotated[dict | None, _new_if_truthy], None),
    ("relevant_rules", list[dict] | None, None),
    ("memory_docs", list[dict] | None, None),
    ("categorizations", Annotated[list[dict], operator.add], list),
    ("responses", Annotated[list[dict], operator.add], list),
    ("user_info", Annotated[dict | None, _new_if_not_none], None),
    ("crm_info", Annotated[dict | None, _new_if_not_none], None),
    ("email_thread_id", Annotated[str | None, _new_if_not_none], None),
    ("slack_participants", Annotated[dict, operator.or_], dict),
    ("bot_id", str | None, None),
    ("notified_assignees", Annotated[dict, operator.or_], dict),
)
_LIST_FIELDS = frozenset(
    {"messages", "trigger_events", "categorizations", "responses", "memory_docs", "relevant_rules"}
)
_DICT_FIELDS = frozenset(
    {"user_info", "crm_info", "slack_participants", "notified_assignees", "autoresponse", "issue"}
)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"

WIDE_SCHEMA_KINDS: tuple[str, ...] = ("dataclass", "typeddict", "pydantic")


def _wide_schema(kind: str) -> type:
    """The 15-key state as a dataclass, a TypedDict or a Pydantic model."""
    if kind == "typeddict":
        return TypedDict("WideDict", {k: ann for k, ann, _ in _WIDE_FIELDS})  # type: ignore[operator]
    if kind == "dataclass":
        fields = [
            (
                k,
                ann,
                dataclasses.field(default_factory=d) if callable(d) else dataclasses.field(default=d),
            )
            for k, ann, d in _WIDE_FIELDS
        ]
        return dataclasses.make_dataclass("WideDataclass", fields, kw_only=True)
    if kind == "pydantic":
        spec: dict[str, Any] = {
            k: (ann, pydantic.Field(default_factory=d) if callable(d) else d) for k, ann, d in _WIDE_FIELDS
        }
        return pydantic.create_model("WidePydantic", **spec)
    raise ValueError(f"unknown schema kind {kind!r}")


def _read(state: Any, key: str) -> Any:
    return state.get(key) if isinstance(state, dict) else getattr(state, key)


def _letters(n: int, salt: int) -> str:
    """A deterministic n-letter string, built letter by letter (the cost of a real node's work)."""
    return "".join(_ALPHABET[(salt + 7 * i) % 26] for i in range(n))


def _read_write(n: int, read: str, write: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    def node(state: Any) -> dict[str, Any]:
        val = _read(state, read)
        val = {val: val} if isinstance(val, str) else val
        single = val[-1] if isinstance(val, list) else val
        as_list = val if isinstance(val, list) else [val]
        return {
            k: as_list if k in _LIST_FIELDS else single if k in _DICT_FIELDS else _letters(n, len(k))
            for k in write
        }

    return node


def wide_state(m: Impl, n: int, *, kind: str, aio: bool) -> Any:
    """``one -> two -> {three, four} -> five -> six``, back to ``one`` until ``len(messages) > n``."""
    builder = m.StateGraph(_wide_schema(kind))
    plan: dict[str, tuple[str, tuple[str, ...]]] = {
        "one": ("messages", ("trigger_events", "primary_issue_medium")),
        "two": ("trigger_events", ("autoresponse", "issue")),
        "three": ("autoresponse", ("relevant_rules",)),
        "four": ("trigger_events", ("categorizations", "responses", "memory_docs")),
        "five": (
            "categorizations",
            (
                "user_info",
                "crm_info",
                "email_thread_id",
                "slack_participants",
                "bot_id",
                "notified_assignees",
            ),
        ),
        "six": ("responses", ("messages",)),
    }
    for name, (read, write) in plan.items():
        builder.add_node(name, _node(_read_write(n, read, write), aio))
    builder.add_edge(m.START, "one")
    builder.add_edge("one", "two")
    builder.add_edge("two", "three")
    builder.add_edge("two", "four")
    builder.add_edge(["three", "four"], "five")
    builder.add_edge("five", "six")
    end = m.END

    def loop(state: Any) -> str:
        return end if len(_read(state, "messages")) > n else "one"

    builder.add_conditional_edges("six", loop, ["one", end])
    return builder.compile()


def wide_state_input(rows: int, cols: int) -> dict[str, Any]:
    """One message: a ``rows x cols`` nested dict whose leaves are 25-item lists."""
    return {
        "messages": [
            {
                str(i) * 10: {
                    str(j) * 10: ["hi?" * 10, True, 1, 6327816386138, None] * 5 for j in range(cols)
                }
                for i in range(rows)
            }
        ]
    }


# --------------------------------------------------------------------------- fan-out to subgraph


class _FanoutState(TypedDict):
    subjects: list[str]
    jokes: Annotated[list[str], operator.add]


class _JokeInput(TypedDict):
    subject: str


class _JokeOutput(TypedDict):
    jokes: list[str]


class _JokeState(_JokeInput, _JokeOutput):
    pass


_BUMPS = 10


def _edit(state: _JokeInput) -> dict[str, Any]:
    return {"subject": f"{state['subject']} - hohoho"}


def _generate(state: _JokeInput) -> dict[str, Any]:
    return {"jokes": [f"Joke about {state['subject']}"]}


def _bump(state: _JokeOutput) -> dict[str, Any]:
    return {"jokes": [state["jokes"][0] + " a"]}


def fanout_to_subgraph(m: Impl, *, aio: bool) -> Any:
    """``START`` sends one ``Send`` per subject to a compiled subgraph that loops ten times."""
    end = m.END
    send = m.Send
    # annotated parameters, so both implementations read each node's input schema
    edit: Callable[..., Any]
    generate: Callable[..., Any]
    bump: Callable[..., Any]
    if aio:

        async def edit(state: _JokeInput) -> dict[str, Any]:  # type: ignore[no-redef]
            return _edit(state)

        async def generate(state: _JokeInput) -> dict[str, Any]:  # type: ignore[no-redef]
            return _generate(state)

        async def bump(state: _JokeOutput) -> dict[str, Any]:  # type: ignore[no-redef]
            return _bump(state)
    else:
        edit, generate, bump = _edit, _generate, _bump

    def bump_loop(state: _JokeOutput) -> str:
        return end if state["jokes"][0].endswith(" a" * _BUMPS) else "bump"

    sub = m.StateGraph(_JokeState, input_schema=_JokeInput, output_schema=_JokeOutput)
    sub.add_node("edit", edit)
    sub.add_node("generate", generate)
    sub.add_node("bump", bump)
    sub.add_edge(m.START, "edit")
    sub.add_edge("edit", "generate")
    sub.add_edge("generate", "bump")
    sub.add_conditional_edges("bump", bump_loop, ["bump", end])
    subgraph = sub.compile()

    def continue_to_jokes(state: _FanoutState) -> list[Any]:
        return [send("generate_joke", {"subject": s}) for s in state["subjects"]]

    builder = m.StateGraph(_FanoutState)
    builder.add_node("generate_joke", subgraph)
    builder.add_conditional_edges(m.START, continue_to_jokes)
    builder.add_edge("generate_joke", end)
    return builder.compile()


def fanout_input(n_subjects: int) -> dict[str, Any]:
    return {"subjects": [f"subject-{i}-" + _letters(200, i) for i in range(n_subjects)]}


# --------------------------------------------------------------------------- ReAct agent


def react_agent(m: Impl, n_tool_calls: int, *, aio: bool) -> Any:
    """Model node + tool node + conditional edge, over ``MessagesState`` (no ``prebuilt``)."""
    return agent_graph(m, ScriptedToolModel(script=tool_script(n_tool_calls)), aio=aio)


def agent_graph(m: Impl, chat_model: Any, *, aio: bool) -> Any:
    """``agent`` (the model, tools bound) and ``tools`` nodes, a conditional edge back and forth."""
    tool = make_tool()
    model = chat_model.bind_tools([tool])
    tools = {tool.name: tool}
    end = m.END

    def last_ai(state: dict[str, Any]) -> AIMessage:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage), f"expected an AIMessage, got {type(last).__name__}"
        return last

    def route(state: dict[str, Any]) -> str:
        return "tools" if last_ai(state).tool_calls else end

    agent: Callable[..., Any]
    run_tools: Callable[..., Any]
    if aio:

        async def agent(state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
            return {"messages": [await model.ainvoke(state["messages"])]}

        async def run_tools(state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
            calls = last_ai(state).tool_calls
            out: list[BaseMessage] = [
                await tools[c["name"]].ainvoke({**c, "type": "tool_call"}) for c in calls
            ]
            return {"messages": out}
    else:

        def agent(state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
            return {"messages": [model.invoke(state["messages"])]}

        def run_tools(state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
            calls = last_ai(state).tool_calls
            out: list[BaseMessage] = [tools[c["name"]].invoke({**c, "type": "tool_call"}) for c in calls]
            return {"messages": out}

    builder = m.StateGraph(m.MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", run_tools)
    builder.add_edge(m.START, "agent")
    builder.add_conditional_edges("agent", route, ["tools", end])
    builder.add_edge("tools", "agent")
    return builder.compile()


def check_tool_messages(final: dict[str, Any]) -> None:
    """Sanity: every tool call got a ``ToolMessage`` answer."""
    calls = sum(len(m.tool_calls) for m in final["messages"] if isinstance(m, AIMessage))
    answers = sum(1 for m in final["messages"] if isinstance(m, ToolMessage))
    assert calls == answers, f"{calls} tool calls but {answers} tool messages"


# --------------------------------------------------------------------------- custom writer


class _CounterState(TypedDict):
    count: int


def custom_writer(m: Impl, n_writes: int, *, aio: bool) -> Any:
    """One node that calls ``get_stream_writer()(...)`` ``n_writes`` times."""
    get_writer = m.get_stream_writer

    def emit(state: _CounterState) -> dict[str, Any]:
        writer = get_writer()
        for i in range(n_writes):
            writer({"i": i})
        return {"count": state["count"] + n_writes}

    builder = m.StateGraph(_CounterState)
    builder.add_node("emit", _node(emit, aio))
    builder.add_edge(m.START, "emit")
    builder.add_edge("emit", m.END)
    return builder.compile()


# --------------------------------------------------------------------------- token streaming


def token_graph(m: Impl, n_tokens: int, *, aio: bool, yield_every: int = 0, in_node: str = "invoke") -> Any:
    """One node that calls a ``TokenModel`` with ``invoke`` (``messages`` mode streams it), or,
    with ``in_node="stream"``, iterates the model's own ``.stream()`` and joins the text."""
    model = TokenModel(n_tokens=n_tokens, yield_every=yield_every)
    call: Callable[..., Any]
    if in_node == "stream":
        if aio:

            async def call(state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
                text = "".join([c.content async for c in model.astream(state["messages"])])
                return {"messages": [AIMessage(text, id="ai-streamed")]}
        else:

            def call(state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
                text = "".join(c.content for c in model.stream(state["messages"]))
                return {"messages": [AIMessage(text, id="ai-streamed")]}
    elif aio:

        async def call(state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
            return {"messages": [await model.ainvoke(state["messages"])]}
    else:

        def call(state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-redef]
            return {"messages": [model.invoke(state["messages"])]}

    builder = m.StateGraph(m.MessagesState)
    builder.add_node("model", call)
    builder.add_edge(m.START, "model")
    builder.add_edge("model", m.END)
    return builder.compile()


# --------------------------------------------------------------------------- blocking chain (concurrency)


class _ChainState(TypedDict):
    value: int
    trail: Annotated[list[str], operator.add]


def blocking_chain(m: Impl, sleep_s: float, *, aio: bool) -> Any:
    """``START -> add_one -> wait -> add_three -> END``; ``wait`` sleeps ``sleep_s`` and doubles.

    Sync nodes sleep with ``time.sleep`` (blocking, as a sync client call would), async nodes
    with ``asyncio.sleep``. The final state of input ``value`` is ``blocking_chain_result(value)``.
    """

    def add_one(state: _ChainState) -> dict[str, Any]:
        return {"value": state["value"] + 1, "trail": ["add_one"]}

    def add_three(state: _ChainState) -> dict[str, Any]:
        return {"value": state["value"] + 3, "trail": ["add_three"]}

    wait: Callable[..., Any]
    if aio:

        async def wait(state: _ChainState) -> dict[str, Any]:
            await asyncio.sleep(sleep_s)
            return {"value": state["value"] * 2, "trail": ["wait"]}
    else:

        def wait(state: _ChainState) -> dict[str, Any]:  # type: ignore[no-redef]
            time.sleep(sleep_s)
            return {"value": state["value"] * 2, "trail": ["wait"]}

    builder = m.StateGraph(_ChainState)
    builder.add_node("add_one", _node(add_one, aio))
    builder.add_node("wait", wait)
    builder.add_node("add_three", _node(add_three, aio))
    builder.add_edge(m.START, "add_one")
    builder.add_edge("add_one", "wait")
    builder.add_edge("wait", "add_three")
    builder.add_edge("add_three", m.END)
    return builder.compile()


def blocking_chain_result(value: int) -> dict[str, Any]:
    """The final state ``blocking_chain`` reaches from ``{"value": value, "trail": []}``."""
    return {"value": (value + 1) * 2 + 3, "trail": ["add_one", "wait", "add_three"]}


# --------------------------------------------------------------------------- persistence (counter chain)


class _PersistChainState(TypedDict, total=False):
    n: int
    blob: str
    """Carried in the state unchanged (the "20 KB state" of the persistence cases)."""


def _increment(state: _PersistChainState) -> dict[str, Any]:
    return {"n": state["n"] + 1}


async def _aincrement(state: _PersistChainState) -> dict[str, Any]:
    return {"n": state["n"] + 1}


def counter_chain(m: Impl, n_nodes: int, *, aio: bool, checkpointer: Any = None) -> Any:
    """``START -> node_0 -> ... -> node_{n-1} -> END``, each node returning ``{"n": n + 1}``.

    ``n_nodes`` supersteps; with ``checkpointer`` a saver is passed to ``compile`` (the
    persistence cases). From ``{"n": 0}`` (plus an optional ``blob`` nobody writes) the
    final state is ``{"n": n_nodes}`` (plus the same ``blob``).
    """
    builder = m.StateGraph(_PersistChainState)
    prev = m.START
    for i in range(n_nodes):
        name = f"node_{i}"
        builder.add_node(name, _aincrement if aio else _increment)
        builder.add_edge(prev, name)
        prev = name
    builder.add_edge(prev, m.END)
    return builder.compile(checkpointer=checkpointer) if checkpointer is not None else builder.compile()
