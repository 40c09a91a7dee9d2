"""The benchmark catalogue: every case, in the order the table prints them.

Sizes: ``params`` for a full run, ``quick_params`` for ``--quick`` (CI smoke).
Names stay the same in both modes; the JSON records the sizes actually used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from bench import graphs, tracing
from bench.core import Bench, Case, Params, SkipVariant, first_item_bench, norm, stream_bench
from bench.impls import SUBJECT, Impl
from bench.models import TokenModel

CONFIG: dict[str, Any] = {"recursion_limit": 1_000_000}
NO_TOKENS = f"{SUBJECT} yielded no tokens in stream_mode='messages' (not implemented yet?)"

CASES: list[Case] = []


def _add(case: Case) -> None:
    assert all(c.name != case.name for c in CASES), case.name
    CASES.append(case)


def _both(
    name: str,
    make: Callable[[Impl, Params, bool], Bench],
    *,
    anchor: Callable[[Params, bool], Bench] | None = None,
    modes: tuple[str, ...] = ("sync", "async"),
    **kw: Any,
) -> None:
    """Register ``{name}_sync`` and ``{name}_async`` from one definition."""
    for mode in modes:
        aio = mode == "async"

        def make_one(m: Impl, p: Params, _aio: bool = aio) -> Bench:
            return make(m, p, _aio)

        def anchor_one(p: Params, _aio: bool = aio) -> Bench:
            assert anchor is not None
            return anchor(p, _aio)

        _add(Case(name=f"{name}_{mode}", make=make_one, anchor=anchor_one if anchor else None, **kw))


# --------------------------------------------------------------------------- runtime (updates mode)

for n, quick_n in ((10, 10), (1000, 100)):
    _both(
        f"sequential_{n}",
        lambda m, p, aio: stream_bench(
            graphs.sequential(m, p["nodes"], aio=aio), graphs.sequential_input(), aio=aio, config=CONFIG
        ),
        group="runtime",
        description=f"chain of {n} no-op nodes (return None) over MessagesState",
        params={"nodes": n},
        quick_params={"nodes": quick_n},
        unit="step",
        units=lambda p: p["nodes"],
        derived="per_unit",
    )

_both(
    "sequential_sync_nodes_1000",
    lambda m, p, aio: stream_bench(
        graphs.sequential(m, p["nodes"], aio=False), graphs.sequential_input(), aio=aio, config=CONFIG
    ),
    modes=("async",),
    group="runtime",
    description="chain of 1000 sync no-op nodes under astream (each node runs off the event loop)",
    params={"nodes": 1000},
    quick_params={"nodes": 100},
    unit="step",
    units=lambda p: p["nodes"],
    derived="per_unit",
)

for label, rows, cols, n, q in (("25x300", 5, 5, 300, 20), ("15x600", 3, 5, 600, 30)):
    for kind in graphs.WIDE_SCHEMA_KINDS:
        _both(
            f"wide_{kind}_{label}",
            lambda m, p, aio: stream_bench(
                graphs.wide_state(m, p["n"], kind=p["kind"], aio=aio),
                graphs.wide_state_input(p["rows"], p["cols"]),
                aio=aio,
                config=CONFIG,
            ),
            group="runtime",
            description=f"15-key {kind} state, 11 reducers; one->two->{{three,four}}->five->six "
            f"looping until len(messages) > {n}; input message {rows}x{cols} nested dict",
            params={"kind": kind, "rows": rows, "cols": cols, "n": n},
            quick_params={"kind": kind, "rows": 2, "cols": 2, "n": q},
        )

for n, quick_n in ((10, 3), (100, 10)):
    _both(
        f"fanout_to_subgraph_{n}x",
        lambda m, p, aio: stream_bench(
            graphs.fanout_to_subgraph(m, aio=aio), graphs.fanout_input(p["sends"]), aio=aio, config=CONFIG
        ),
        group="runtime",
        description=f"{n} Sends into a compiled subgraph (edit -> generate -> bump x10)",
        params={"sends": n},
        quick_params={"sends": quick_n},
        unit="send",
        units=lambda p: p["sends"],
        derived="per_unit",
    )

_both(
    "react_agent_10x",
    lambda m, p, aio: stream_bench(
        graphs.react_agent(m, p["tool_calls"], aio=aio),
        {"messages": [HumanMessage("hi?", id="human-0")]},
        aio=aio,
        config=CONFIG,
        verify=graphs.check_tool_messages,
    ),
    group="runtime",
    description="hand-built ReAct graph (agent + tools + conditional edge), scripted tool-calling model",
    params={"tool_calls": 10},
    quick_params={"tool_calls": 3},
    unit="tool call",
    units=lambda p: p["tool_calls"],
    derived="per_unit",
)

# --------------------------------------------------------------------------- streaming modes


_both(
    "custom_writer_10k",
    lambda m, p, aio: stream_bench(
        graphs.custom_writer(m, p["writes"], aio=aio),
        {"count": 0},
        aio=aio,
        config=CONFIG,
        mode="custom",
        summarize=lambda chunks: norm(chunks),
    ),
    group="streaming",
    description="stream_mode='custom': one node calls get_stream_writer()(...) 10k times",
    params={"writes": 10_000},
    quick_params={"writes": 500},
    unit="write",
    units=lambda p: p["writes"],
    derived="per_unit",
)


def _debug_summary(chunks: list[Any]) -> Any:
    """Debug events carry timestamps and task ids: compare (type, step, node) only."""
    return [(c["type"], c["step"], c["payload"].get("name")) for c in chunks]


_both(
    "debug_sequential_1000",
    lambda m, p, aio: stream_bench(
        graphs.sequential(m, p["nodes"], aio=aio),
        graphs.sequential_input(),
        aio=aio,
        config=CONFIG,
        mode="debug",
        summarize=_debug_summary,
    ),
    group="streaming",
    description="stream_mode='debug' on the 1000-node chain",
    params={"nodes": 1000},
    quick_params={"nodes": 100},
    unit="step",
    units=lambda p: p["nodes"],
    derived="per_unit",
)

_both(
    "first_update_sequential_1000",
    lambda m, p, aio: first_item_bench(
        graphs.sequential(m, p["nodes"], aio=aio), graphs.sequential_input(), aio=aio, config=CONFIG
    ),
    group="streaming",
    description="time to the first 'updates' item of the 1000-node chain, then close the stream",
    params={"nodes": 1000},
    quick_params={"nodes": 100},
    metric="time to the first item (closing the stream not timed)",
)

_both(
    "first_update_pydantic_25x300",
    lambda m, p, aio: first_item_bench(
        graphs.wide_state(m, p["n"], kind="pydantic", aio=aio),
        graphs.wide_state_input(p["rows"], p["cols"]),
        aio=aio,
        config=CONFIG,
    ),
    group="streaming",
    description="time to the first 'updates' item of the Pydantic wide-state graph",
    params={"rows": 5, "cols": 5, "n": 300},
    quick_params={"rows": 2, "cols": 2, "n": 20},
    metric="time to the first item (closing the stream not timed)",
)

# --------------------------------------------------------------------------- messages mode (tokens)


def _is_token(item: Any) -> bool:
    return isinstance(item, tuple) and isinstance(item[0], BaseMessage) and bool(item[0].content)


def _messages_summary(chunks: list[Any]) -> Any:
    tokens = [c for c in chunks if _is_token(c)]
    if not tokens:
        raise SkipVariant(NO_TOKENS)
    return {
        "tokens": [t[0].content for t in tokens],
        "nodes": sorted({t[1].get("langgraph_node") for t in tokens}),
    }


def _messages_bench(m: Impl, p: Params, aio: bool) -> Bench:
    return stream_bench(
        graphs.token_graph(m, p["tokens"], aio=aio, yield_every=int(aio), in_node=p.get("in_node", "invoke")),
        {"messages": [HumanMessage("hi", id="human-0")]},
        aio=aio,
        config=CONFIG,
        mode="messages",
        summarize=_messages_summary,
    )


def _bare_model_bench(p: Params, aio: bool) -> Bench:
    """The anchor: the same model's own ``.stream()`` / ``.astream()``, no graph."""
    model = TokenModel(n_tokens=p["tokens"], yield_every=int(aio))
    msgs = [HumanMessage("hi", id="human-0")]
    if aio:
        loop = asyncio.new_event_loop()

        async def atimed() -> float:
            t0 = time.perf_counter()
            async for _ in model.astream(msgs):
                pass
            return time.perf_counter() - t0

        return Bench(run=lambda: loop.run_until_complete(atimed()), check=lambda: None, close=loop.close)

    def timed() -> float:
        t0 = time.perf_counter()
        for _ in model.stream(msgs):
            pass
        return time.perf_counter() - t0

    return Bench(run=timed, check=lambda: None)


_both(
    "messages_5000_tokens",
    _messages_bench,
    anchor=_bare_model_bench,
    group="messages",
    description="stream_mode='messages' over a one-node graph whose model streams 5000 tokens; "
    "per-token = (graph - bare model.stream()) / tokens; the async model yields to the loop every token",
    params={"tokens": 5000},
    quick_params={"tokens": 200},
    anchor_label="bare model",
    unit="token",
    units=lambda p: p["tokens"],
    derived="per_unit_over_anchor",
)

_both(
    "messages_5000_tokens_stream_in_node",
    _messages_bench,
    anchor=_bare_model_bench,
    group="messages",
    description="as messages_5000_tokens, but the node iterates the model's own .stream() and joins the "
    "text (no chunk merging inside .invoke()); per-token = (graph - bare model.stream()) / tokens",
    params={"tokens": 5000, "in_node": "stream"},
    quick_params={"tokens": 200, "in_node": "stream"},
    anchor_label="bare model",
    unit="token",
    units=lambda p: p["tokens"],
    derived="per_unit_over_anchor",
)


def _first_token_bench(m: Impl, p: Params, aio: bool) -> Bench:
    return first_item_bench(
        graphs.token_graph(m, p["tokens"], aio=aio, yield_every=int(aio)),
        {"messages": [HumanMessage("hi", id="human-0")]},
        aio=aio,
        config=CONFIG,
        mode="messages",
        accept=_is_token,
        summarize=lambda item: item[0].content,
        require=NO_TOKENS,
    )


def _bare_first_token_bench(p: Params, aio: bool) -> Bench:
    model = TokenModel(n_tokens=p["tokens"], yield_every=int(aio))
    msgs = [HumanMessage("hi", id="human-0")]
    if aio:
        loop = asyncio.new_event_loop()

        async def afirst() -> float:
            t0 = time.perf_counter()
            stream = model.astream(msgs)
            try:
                async for _ in stream:
                    return time.perf_counter() - t0
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
            raise AssertionError("no chunk")

        return Bench(run=lambda: loop.run_until_complete(afirst()), check=lambda: None, close=loop.close)

    def first() -> float:
        t0 = time.perf_counter()
        stream = model.stream(msgs)
        try:
            for _ in stream:
                return time.perf_counter() - t0
        finally:
            stream.close()  # type: ignore[attr-defined]
        raise AssertionError("no chunk")

    return Bench(run=first, check=lambda: None)


_both(
    "first_token_5000",
    _first_token_bench,
    anchor=_bare_first_token_bench,
    group="messages",
    description="time to the first token in stream_mode='messages' (the 5000-token graph)",
    params={"tokens": 5000},
    quick_params={"tokens": 200},
    anchor_label="bare model",
    metric="time to the first token (closing the stream not timed)",
)

# --------------------------------------------------------------------------- scale: concurrent astream


async def _concurrent_tokens(stream_one: Callable[[], Any], runs: int) -> tuple[float, list[int]]:
    async def one() -> int:
        count = 0
        async for item in stream_one():
            message = item[0] if _is_token(item) else item
            if isinstance(message, BaseMessage) and message.content:
                count += 1
        return count

    t0 = time.perf_counter()
    counts = await asyncio.gather(*(one() for _ in range(runs)))
    return time.perf_counter() - t0, list(counts)


def _scale_bench(m: Impl, p: Params) -> Bench:
    graph = graphs.token_graph(m, p["tokens"], aio=True, yield_every=1)
    inp = {"messages": [HumanMessage("hi", id="human-0")]}
    loop = asyncio.new_event_loop()

    def stream_one() -> Any:
        return graph.astream(inp, CONFIG, stream_mode="messages")

    def check() -> Any:
        _, counts = loop.run_until_complete(_concurrent_tokens(stream_one, p["runs"]))
        if not any(counts):
            raise SkipVariant(NO_TOKENS)
        return {"tokens_per_run": sorted(set(counts)), "runs": len(counts)}

    return Bench(
        run=lambda: loop.run_until_complete(_concurrent_tokens(stream_one, p["runs"]))[0],
        check=check,
        close=loop.close,
    )


def _scale_anchor(p: Params) -> Bench:
    model = TokenModel(n_tokens=p["tokens"], yield_every=1)
    msgs = [HumanMessage("hi", id="human-0")]
    loop = asyncio.new_event_loop()

    def stream_one() -> Any:
        return model.astream(msgs)

    return Bench(
        run=lambda: loop.run_until_complete(_concurrent_tokens(stream_one, p["runs"]))[0],
        check=lambda: None,
        close=loop.close,
    )


for runs, quick_runs in ((100, 10), (1000, 20)):
    _add(
        Case(
            name=f"scale_astream_{runs}",
            group="scale",
            description=f"{runs} concurrent astream(stream_mode='messages') runs of a token-streaming "
            "graph on one event loop (model yields to the loop every token)",
            params={"runs": runs, "tokens": 20},
            quick_params={"runs": quick_runs, "tokens": 10},
            make=_scale_bench,
            anchor=_scale_anchor,
            anchor_label="bare model",
            metric="wall time until every run has streamed all its tokens",
            unit="token",
            units=lambda p: p["runs"] * p["tokens"],
            derived="throughput",
            repeat_factor=0.5,
            max_repeats=3,
            warmup=0,
        )
    )

# --------------------------------------------------------------------------- tracing

# One case per (state size, content capture, sync/async); each runs one graph (an LLM
# node and a tool node) untraced, under lgtrace's OTel handler, and under three
# anchor instrumentations, on the lgtrace graph and on the LangGraph graph (nine
# variants, interleaved). See bench/tracing.py for how the anchors are kept active
# only during their own runs and how spans and content capture are verified.
for size, kib, quick_kib in (("small_state", 0, 0), ("history_200kb", 200, 20)):
    for content in ("content_off", "content_on"):
        for mode in ("sync", "async"):
            what = "no history" if not kib else f"{kib} KiB of message history"
            _add(
                Case(
                    name=f"tracing_{size}_{content}_{mode}",
                    group="tracing",
                    description=f"agent graph (LLM node + tool node, 1 tool call), {what}, content capture "
                    f"{content.removeprefix('content_')}, {mode}: untraced vs lgtrace's OTel handler vs "
                    "OpenInference / OpenLLMetry / OTel GenAI, on the lgtrace and LangGraph graphs",
                    params={"history_kib": kib, "content": content, "mode": mode},
                    quick_params={"history_kib": quick_kib, "content": content, "mode": mode},
                    variants=tracing.tracing_variants,
                    reference=tracing.reference_of,
                    finish=tracing.added_times,
                    metric="wall time of one graph run (stream consumed to the end)",
                    repeat_factor=2.5,  # ten variants a round; added times are differences: more rounds
                    shuffle=True,  # a fixed order biases the run after OpenInference's heavy one
                )
            )

__all__ = ["CASES"]
