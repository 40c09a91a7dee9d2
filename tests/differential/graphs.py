"""Catalogue of graphs run on both LangGraph (the oracle) and lgtrace.

Every builder takes one argument ``m``: a namespace whose names come from either
``langgraph.*`` or ``lgtrace.*`` (see :func:`load`).  The graph is defined once;
only the import prefix differs.  A builder returns ``(compiled_graph, input, config)``
and must be deterministic apart from the order in which parallel tasks of one
superstep finish (the harness canonicalizes that).

No ``from __future__ import annotations`` here on purpose: the runtimes read
node and state annotations at build time, and the state classes are local.
"""

import asyncio
import importlib
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage, ToolMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from pydantic import BaseModel, Field

# --------------------------------------------------------------------------- namespace


def load(prefix: str) -> SimpleNamespace:
    """Import the public API under ``prefix`` (``"langgraph"`` or ``"lgtrace"``)."""
    graph = importlib.import_module(f"{prefix}.graph")
    message = importlib.import_module(f"{prefix}.graph.message")
    types_ = importlib.import_module(f"{prefix}.types")
    config = importlib.import_module(f"{prefix}.config")
    errors = importlib.import_module(f"{prefix}.errors")
    return SimpleNamespace(
        prefix=prefix,
        StateGraph=graph.StateGraph,
        START=graph.START,
        END=graph.END,
        MessagesState=graph.MessagesState,
        add_messages=message.add_messages,
        Send=types_.Send,
        Command=types_.Command,
        StreamWriter=types_.StreamWriter,
        get_stream_writer=config.get_stream_writer,
        get_config=config.get_config,
        GraphRecursionError=errors.GraphRecursionError,
        InvalidUpdateError=errors.InvalidUpdateError,
    )


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[SimpleNamespace], tuple[Any, Any, Any]]
    async_only: bool = False  # has async nodes: only astream / ainvoke
    nested: bool = False  # runs subgraphs (events with a non-empty namespace)


CATALOGUE: dict[str, Case] = {}


def case(*, async_only: bool = False, nested: bool = False):
    def deco(fn):
        CATALOGUE[fn.__name__] = Case(fn.__name__, fn, async_only=async_only, nested=nested)
        return fn

    return deco


def _meta(config: RunnableConfig) -> dict:
    """The metadata keys a node may legitimately rely on."""
    md = config["metadata"]
    return {
        "step": md["langgraph_step"],
        "node": md["langgraph_node"],
        "triggers": list(md["langgraph_triggers"]),
        "path": list(md["langgraph_path"]),
        "checkpoint_ns": md["langgraph_checkpoint_ns"],
    }


# --------------------------------------------------------------------------- seed graphs


@case()
def seed_joke(m):
    class State(TypedDict):
        topic: str
        joke: str

    def refine_topic(state: State):
        return {"topic": state["topic"] + " and cats"}

    def generate_joke(state: State):
        return {"joke": f"This is a joke about {state['topic']}"}

    g = (
        m.StateGraph(State)
        .add_node(refine_topic)
        .add_node(generate_joke)
        .add_edge(m.START, "refine_topic")
        .add_edge("refine_topic", "generate_joke")
        .add_edge("generate_joke", m.END)
        .compile()
    )
    return g, {"topic": "ice cream"}, None


@case()
def seed_joke_writer(m):
    class State(TypedDict):
        topic: str
        joke: str

    def refine_topic(state: State, writer: m.StreamWriter):
        writer({"custom_key": "refining"})
        return {"topic": state["topic"] + " and cats"}

    def generate_joke(state: State, writer: m.StreamWriter):
        writer({"custom_key": "Writing custom data while generating a joke"})
        writer("plain string chunk")
        writer(["a", "list", 3])
        return {"joke": f"This is a joke about {state['topic']}"}

    g = (
        m.StateGraph(State)
        .add_node(refine_topic)
        .add_node(generate_joke)
        .add_edge(m.START, "refine_topic")
        .add_edge("refine_topic", "generate_joke")
        .add_edge("generate_joke", m.END)
        .compile()
    )
    return g, {"topic": "ice cream"}, None


def _seed_subgraph(m):
    class SubgraphState(TypedDict):
        foo: str  # shared with the parent
        bar: str

    def subgraph_node_1(state: SubgraphState):
        return {"bar": "bar"}

    def subgraph_node_2(state: SubgraphState):
        return {"foo": state["foo"] + state["bar"]}

    return (
        m.StateGraph(SubgraphState)
        .add_node(subgraph_node_1)
        .add_node(subgraph_node_2)
        .add_edge(m.START, "subgraph_node_1")
        .add_edge("subgraph_node_1", "subgraph_node_2")
        .compile()
    )


@case(nested=True)
def seed_subgraph(m):
    class ParentState(TypedDict):
        foo: str

    def node_1(state: ParentState):
        return {"foo": "hi! " + state["foo"]}

    g = (
        m.StateGraph(ParentState)
        .add_node("node_1", node_1)
        .add_node("node_2", _seed_subgraph(m))
        .add_edge(m.START, "node_1")
        .add_edge("node_1", "node_2")
        .compile()
    )
    return g, {"foo": "foo"}, None


# --------------------------------------------------------------------------- fan-out / fan-in


class Items(TypedDict, total=False):
    items: Annotated[list, operator.add]
    note: str


def _appender(tag: str):
    def node(state):
        return {"items": [tag]}

    return node


@case()
def fanout_fanin(m):
    b = m.StateGraph(Items)
    for n in ("a", "b", "c", "d"):
        b.add_node(n, _appender(n))
    b.add_edge(m.START, "a")
    b.add_edge("a", "b")
    b.add_edge("a", "c")
    b.add_edge(["b", "c"], "d")
    b.add_edge("d", m.END)
    return b.compile(), {"items": ["in"]}, None


@case()
def fanout_uneven_no_join(m):
    # d is reached from c (step 2) and from b2 (step 3): it runs twice
    b = m.StateGraph(Items)
    for n in ("a", "b1", "b2", "c", "d"):
        b.add_node(n, _appender(n))
    b.add_edge(m.START, "a")
    b.add_edge("a", "b1")
    b.add_edge("b1", "b2")
    b.add_edge("a", "c")
    b.add_edge("b2", "d")
    b.add_edge("c", "d")
    return b.compile(), {"items": []}, None


@case()
def fanout_uneven_join(m):
    # d waits for both b2 (long branch) and c (short branch)
    b = m.StateGraph(Items)
    for n in ("a", "b1", "b2", "c", "d"):
        b.add_node(n, _appender(n))
    b.add_edge(m.START, "a")
    b.add_edge("a", "b1")
    b.add_edge("b1", "b2")
    b.add_edge("a", "c")
    b.add_edge(["b2", "c"], "d")
    b.add_edge("d", m.END)
    return b.compile(), {"items": []}, None


@case()
def fanout_from_start_wide(m):
    # four parallel nodes from START writing custom data, names out of order
    def mk(tag):
        def node(state):
            m.get_stream_writer()({"node": tag, "seen": list(state["items"])})
            return {"items": [tag]}

        return node

    b = m.StateGraph(Items)
    for n in ("zeta", "alpha", "mid", "beta"):
        b.add_node(n, mk(n))
        b.add_edge(m.START, n)
    b.add_node("join", _appender("join"))
    b.add_edge(["zeta", "alpha", "mid", "beta"], "join")
    return b.compile(), {"items": ["x"]}, None


# --------------------------------------------------------------------------- conditional edges


class Counter(TypedDict, total=False):
    n: int
    trail: Annotated[list, operator.add]


@case()
def cond_loop_no_path_map(m):
    def inc(state: Counter):
        return {"n": state["n"] + 1, "trail": [f"inc{state['n']}"]}

    def route(state: Counter):
        return "inc" if state["n"] < 4 else m.END

    b = m.StateGraph(Counter)
    b.add_node("inc", inc)
    b.add_edge(m.START, "inc")
    b.add_conditional_edges("inc", route)
    return b.compile(), {"n": 0}, None


@case()
def cond_path_map_dict(m):
    def classify(state: Counter):
        return {"trail": ["classify"]}

    def even(state):
        return {"trail": ["even"], "n": state["n"] + 1}

    def odd(state):
        return {"trail": ["odd"], "n": state["n"] + 3}

    def route(state) -> Literal["is_even", "is_odd", "stop"]:
        if state["n"] > 6:
            return "stop"
        return "is_even" if state["n"] % 2 == 0 else "is_odd"

    b = m.StateGraph(Counter)
    b.add_node("classify", classify)
    b.add_node("even", even)
    b.add_node("odd", odd)
    b.add_edge(m.START, "classify")
    b.add_conditional_edges("classify", route, {"is_even": "even", "is_odd": "odd", "stop": m.END})
    b.add_edge("even", "classify")
    b.add_edge("odd", "classify")
    return b.compile(), {"n": 2}, None


@case()
def cond_path_map_list_and_list_return(m):
    def start(state):
        return {"trail": ["start"]}

    def route(state):
        # a list of destinations runs them in parallel
        return ["left", "right"] if state["n"] == 0 else ["right"]

    b = m.StateGraph(Counter)
    b.add_node("start", start)
    b.add_node("left", lambda s: {"trail": ["left"]})
    b.add_node("right", lambda s: {"trail": ["right"]})
    b.add_node("done", lambda s: {"trail": ["done"], "n": len(s["trail"])})
    b.add_edge(m.START, "start")
    b.add_conditional_edges("start", route, ["left", "right"])
    b.add_edge("left", "done")
    b.add_edge("right", "done")
    b.add_edge("done", m.END)
    return b.compile(), {"n": 0}, None


@case()
def cond_from_start_to_end(m):
    def route(state):
        return m.END if state["n"] > 10 else "work"

    def work(state):
        return {"n": state["n"] * 2, "trail": ["work"]}

    def route2(state):
        return [m.END] if state["n"] > 10 else ["work"]

    b = m.StateGraph(Counter)
    b.add_node("work", work)
    b.add_conditional_edges(m.START, route)
    b.add_conditional_edges("work", route2)
    return b.compile(), {"n": 1}, None


@case()
def cond_entry_and_finish_point(m):
    b = m.StateGraph(Counter)
    b.add_node("first", lambda s: {"trail": ["first"], "n": s["n"] + 1})
    b.add_node("second", lambda s: {"trail": ["second"], "n": s["n"] + 1})
    b.set_entry_point("first")
    b.add_edge("first", "second")
    b.set_finish_point("second")
    return b.compile(), {"n": 0, "trail": ["init"]}, None


@case()
def conditional_entry_point(m):
    b = m.StateGraph(Counter)
    b.add_node("small", lambda s: {"trail": ["small"]})
    b.add_node("big", lambda s: {"trail": ["big"]})
    b.set_conditional_entry_point(lambda s: "big" if s["n"] > 5 else "small")
    b.set_finish_point("small")
    b.set_finish_point("big")
    return b.compile(), {"n": 9}, None


# --------------------------------------------------------------------------- Send


class MapReduce(TypedDict, total=False):
    subjects: list[str]
    jokes: Annotated[list, operator.add]
    best: str


@case()
def send_map_reduce(m):
    class JokeInput(TypedDict):
        subject: str

    def generate_subjects(state: MapReduce):
        return {"subjects": ["lions", "elephants", "penguins"]}

    def continue_to_jokes(state: MapReduce):
        return [m.Send("generate_joke", {"subject": s}) for s in state["subjects"]]

    def generate_joke(state: JokeInput, writer: m.StreamWriter):
        writer({"joke_for": state["subject"]})
        return {"jokes": [f"Joke about {state['subject']}"]}

    def best_joke(state: MapReduce):
        return {"best": max(state["jokes"])}

    b = m.StateGraph(MapReduce)
    b.add_node("generate_subjects", generate_subjects)
    b.add_node("generate_joke", generate_joke)
    b.add_node("best_joke", best_joke)
    b.add_edge(m.START, "generate_subjects")
    b.add_conditional_edges("generate_subjects", continue_to_jokes, ["generate_joke"])
    b.add_edge("generate_joke", "best_joke")
    b.add_edge("best_joke", m.END)
    return b.compile(), {"subjects": []}, None


@case()
def send_mixed_with_pull(m):
    # Send packets and a plain node name from the same path function; write order
    # must be pull tasks (by name) then push tasks (by Send order)
    def fan(state):
        return [
            m.Send("worker", {"items": ["w2"]}),
            "aaa",
            m.Send("worker", {"items": ["w1"]}),
            "zzz",
        ]

    def worker(state):
        return {"items": [f"worker({','.join(state['items'])})"]}

    b = m.StateGraph(Items)
    b.add_node("root", _appender("root"))
    b.add_node("worker", worker)
    b.add_node("aaa", _appender("aaa"))
    b.add_node("zzz", _appender("zzz"))
    b.add_node("collect", lambda s: {"note": "|".join(s["items"])})
    b.add_edge(m.START, "root")
    b.add_conditional_edges("root", fan)
    b.add_edge(["aaa", "zzz"], "collect")
    return b.compile(), {"items": []}, None


@case()
def send_from_start(m):
    def fan(state):
        return [m.Send("square", {"items": [i]}) for i in state["items"]]

    def square(state):
        return {"items": [state["items"][0] ** 2]}

    b = m.StateGraph(Items)
    b.add_node("square", square)
    b.add_conditional_edges(m.START, fan)
    return b.compile(), {"items": [1, 2, 3]}, None


# --------------------------------------------------------------------------- Command


@case()
def command_goto(m):
    def router(state: Counter):
        if state["n"] >= 3:
            return m.Command(update={"trail": ["router-done"]}, goto=m.END)
        target = "even" if state["n"] % 2 == 0 else "odd"
        return m.Command(update={"trail": [f"router->{target}"]}, goto=target)

    def even(state: Counter):
        return m.Command(update={"n": state["n"] + 1, "trail": ["even"]}, goto="router")

    def odd(state: Counter):
        return m.Command(update={"n": state["n"] + 1, "trail": ["odd"]}, goto=["router"])

    b = m.StateGraph(Counter)
    b.add_node("router", router)
    b.add_node("even", even)
    b.add_node("odd", odd)
    b.add_edge(m.START, "router")
    return b.compile(), {"n": 0}, None


@case()
def command_goto_send_and_list(m):
    def plan(state: Items):
        return m.Command(
            update={"items": ["plan"]},
            goto=[m.Send("task", {"items": ["t1"]}), m.Send("task", {"items": ["t2"]}), "audit"],
        )

    def task(state):
        return {"items": [state["items"][0] + "-done"]}

    def audit(state):
        return m.Command(update={"note": f"audited {len(state['items'])}"})

    b = m.StateGraph(Items)
    b.add_node("plan", plan)
    b.add_node("task", task)
    b.add_node("audit", audit)
    b.add_edge(m.START, "plan")
    return b.compile(), {"items": []}, None


@case()
def command_update_with_static_edge(m):
    # Command without goto behaves like a dict update; static edges still apply
    b = m.StateGraph(Counter)
    b.add_node("one", lambda s: m.Command(update={"n": 1, "trail": ["one"]}))
    b.add_node("two", lambda s: m.Command(update={"n": s["n"] + 1, "trail": ["two"]}, goto="three"))
    b.add_node("three", lambda s: {"trail": ["three"]})
    b.add_edge(m.START, "one")
    b.add_edge("one", "two")
    return b.compile(), {"n": 0}, None


@case(nested=True)
def command_parent_from_subgraph(m):
    class S(TypedDict, total=False):
        items: Annotated[list, operator.add]

    def inner(state: S):
        return m.Command(graph=m.Command.PARENT, goto="after", update={"items": ["inner"]})

    sub = m.StateGraph(S)
    sub.add_node("inner", inner)
    sub.add_node("never", lambda s: {"items": ["never"]})
    sub.add_edge(m.START, "inner")
    sub.add_edge("inner", "never")
    subgraph = sub.compile()

    b = m.StateGraph(S)
    b.add_node("before", lambda s: {"items": ["before"]})
    b.add_node("child", subgraph)
    b.add_node("after", lambda s: {"items": ["after"]})
    b.add_edge(m.START, "before")
    b.add_edge("before", "child")
    return b.compile(), {"items": []}, None


# --------------------------------------------------------------------------- reducers / schemas


def _merge_dicts(left: dict | None, right: dict | None) -> dict:
    out = dict(left or {})
    out.update(right or {})
    return out


def _keep_max(left: int | None, right: int | None) -> int:
    return max(left or 0, right or 0)


class Reduced(TypedDict, total=False):
    total: Annotated[int, operator.add]
    tags: Annotated[dict, _merge_dicts]
    peak: Annotated[int, _keep_max]
    log: Annotated[list, operator.add]
    last: str


@case()
def reducers_custom(m):
    def a(state: Reduced):
        return {"total": 5, "tags": {"a": 1}, "peak": 3, "log": ["a"], "last": "a"}

    def b(state: Reduced):
        return {"total": 7, "tags": {"b": 2, "a": 9}, "peak": 11, "log": ["b"]}

    def c(state: Reduced):
        return {"total": 1, "tags": {"c": 3}, "peak": 2, "log": ["c"]}

    def summary(state: Reduced):
        return {"last": f"{state['total']}/{sorted(state['tags'].items())}/{state['peak']}"}

    g = m.StateGraph(Reduced)
    g.add_node("a", a)
    g.add_node("b", b)
    g.add_node("c", c)
    g.add_node("summary", summary)
    g.add_edge(m.START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    g.add_edge(["b", "c"], "summary")
    return g.compile(), {"total": 1, "tags": {"in": 0}, "peak": 4, "log": []}, None


@case()
def dataclass_state(m):
    @dataclass
    class DState:
        name: str
        count: int = 0
        history: Annotated[list, operator.add] = field(default_factory=list)

    def greet(state: DState):
        return {"count": state.count + 1, "history": [f"hello {state.name}"]}

    def again(state: DState):
        return {"count": state.count * 10, "history": [f"again {len(state.history)}"]}

    g = (
        m.StateGraph(DState)
        .add_node("greet", greet)
        .add_node("again", again)
        .add_edge(m.START, "greet")
        .add_edge("greet", "again")
        .compile()
    )
    return g, DState(name="ada"), None


@case()
def pydantic_state(m):
    class PState(BaseModel):
        text: str
        score: float = 0.5
        hits: Annotated[list[str], operator.add] = Field(default_factory=list)

    def score(state: PState):
        return {"score": state.score + len(state.text) / 10, "hits": ["score"]}

    def shout(state: PState):
        return {"text": state.text.upper(), "hits": [f"shout:{state.score}"]}

    g = (
        m.StateGraph(PState)
        .add_node("score", score)
        .add_node("shout", shout)
        .add_edge(m.START, "score")
        .add_edge("score", "shout")
        .compile()
    )
    return g, {"text": "hello"}, None


@case()
def node_returns_none(m):
    seen = []

    def observe(state: Counter):
        seen.append(state["n"])
        return None

    def bump(state: Counter):
        return {"n": state["n"] + 1}

    g = (
        m.StateGraph(Counter)
        .add_node("observe", observe)
        .add_node("bump", bump)
        .add_node("observe_again", observe)
        .add_edge(m.START, "observe")
        .add_edge("observe", "bump")
        .add_edge("bump", "observe_again")
        .compile()
    )
    return g, {"n": 41}, None


@case()
def add_sequence_graph(m):
    def step_one(state: Counter):
        return {"trail": ["one"], "n": state["n"] + 1}

    def step_two(state: Counter):
        return {"trail": ["two"], "n": state["n"] * 3}

    def step_three(state: Counter):
        return {"trail": [f"three:{state['n']}"]}

    b = m.StateGraph(Counter)
    b.add_sequence([step_one, step_two, ("custom_name", step_three)])
    b.add_edge(m.START, "step_one")
    return b.compile(), {"n": 1}, None


# --------------------------------------------------------------------------- messages


@case()
def messages_state_mixed_inputs(m):
    def bot(state: m.MessagesState):
        last = state["messages"][-1]
        return {
            "messages": [
                {"role": "assistant", "content": f"echo: {last.content}"},
                ("user", "tuple message"),
            ]
        }

    def tool(state: m.MessagesState):
        return {
            "messages": [
                AIMessage(
                    content="",
                    id="ai-call-1",
                    tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "call-1"}],
                ),
                ToolMessage(content="42", tool_call_id="call-1", id="tool-1"),
                "plain string becomes human",
            ]
        }

    def edit(state: m.MessagesState):
        # replace a message by id, remove another
        return {
            "messages": [
                AIMessage(content="edited", id="ai-call-1"),
                RemoveMessage(id="tool-1"),
            ]
        }

    g = (
        m.StateGraph(m.MessagesState)
        .add_node("bot", bot)
        .add_node("tool", tool)
        .add_node("edit", edit)
        .add_edge(m.START, "bot")
        .add_edge("bot", "tool")
        .add_edge("tool", "edit")
        .compile()
    )
    return g, {"messages": [("user", "hi there")]}, None


@case()
def messages_custom_state_str_input(m):
    class Chat(TypedDict, total=False):
        messages: Annotated[list, m.add_messages]
        turns: int

    def reply(state: Chat):
        return {
            "messages": [AIMessage(content=f"reply {len(state['messages'])}", id="fixed-id")],
            "turns": state.get("turns", 0) + 1,
        }

    def follow(state: Chat):
        return {"messages": HumanMessage(content="single message, not a list", id="h-1")}

    g = (
        m.StateGraph(Chat)
        .add_node("reply", reply)
        .add_node("follow", follow)
        .add_edge(m.START, "reply")
        .add_edge("reply", "follow")
        .compile()
    )
    return g, {"messages": "hello as str"}, None


@case()
def messages_parallel_appends(m):
    def mk(tag):
        def node(state: m.MessagesState):
            return {"messages": [{"role": "ai", "content": tag, "id": f"id-{tag}"}]}

        return node

    b = m.StateGraph(m.MessagesState)
    for n in ("p", "q", "r"):
        b.add_node(n, mk(n))
        b.add_edge(m.START, n)
    b.add_node("count", lambda s: {"messages": [("ai", f"{len(s['messages'])} messages")]})
    b.add_edge(["p", "q", "r"], "count")
    return b.compile(), {"messages": [{"role": "user", "content": "go"}]}, None


# --------------------------------------------------------------------------- subgraphs


@case(nested=True)
def subgraph_two_levels(m):
    class S(TypedDict, total=False):
        path: Annotated[list, operator.add]
        depth_note: str

    def leaf(state: S):
        m.get_stream_writer()({"level": "grandchild", "seen": len(state["path"])})
        return {"path": ["grandchild"]}

    grand = m.StateGraph(S).add_node("leaf", leaf).add_edge(m.START, "leaf").compile()

    def child_pre(state: S):
        m.get_stream_writer()({"level": "child"})
        return {"path": ["child_pre"]}

    child = (
        m.StateGraph(S)
        .add_node("child_pre", child_pre)
        .add_node("grand", grand)
        .add_node("child_post", lambda s: {"path": ["child_post"], "depth_note": "deep"})
        .add_edge(m.START, "child_pre")
        .add_edge("child_pre", "grand")
        .add_edge("grand", "child_post")
        .compile()
    )

    g = (
        m.StateGraph(S)
        .add_node("top", lambda s: {"path": ["top"]})
        .add_node("child", child)
        .add_node("end", lambda s: {"path": [f"end:{len(s['path'])}"]})
        .add_edge(m.START, "top")
        .add_edge("top", "child")
        .add_edge("child", "end")
        .compile()
    )
    return g, {"path": []}, None


@case(nested=True)
def subgraph_different_schema_invoked_in_node(m):
    class Inner(TypedDict, total=False):
        text: str
        steps: Annotated[list, operator.add]

    def up(state: Inner):
        m.get_stream_writer()({"inner": "up"})
        return {"text": state["text"].upper(), "steps": ["up"]}

    def rev(state: Inner):
        return {"text": state["text"][::-1], "steps": ["rev"]}

    inner = (
        m.StateGraph(Inner)
        .add_node("up", up)
        .add_node("rev", rev)
        .add_edge(m.START, "up")
        .add_edge("up", "rev")
        .compile()
    )

    class Outer(TypedDict, total=False):
        word: str
        result: str
        n_steps: int

    def call_inner(state: Outer):
        out = inner.invoke({"text": state["word"], "steps": []})
        return {"result": out["text"], "n_steps": len(out["steps"])}

    g = (
        m.StateGraph(Outer)
        .add_node("call_inner", call_inner)
        .add_node("finish", lambda s: {"word": s["result"] + "!"})
        .add_edge(m.START, "call_inner")
        .add_edge("call_inner", "finish")
        .compile()
    )
    return g, {"word": "stressed"}, None


@case(nested=True)
def subgraphs_parallel(m):
    class S(TypedDict, total=False):
        items: Annotated[list, operator.add]

    def make_sub(tag):
        def first(state: S):
            m.get_stream_writer()({"node": f"{tag}.first"})
            return {"items": [f"{tag}.first"]}

        return (
            m.StateGraph(S)
            .add_node("first", first)
            .add_node("second", lambda s: {"items": [f"{tag}.second"]})
            .add_edge(m.START, "first")
            .add_edge("first", "second")
            .compile()
        )

    g = (
        m.StateGraph(S)
        .add_node("left", make_sub("L"))
        .add_node("right", make_sub("R"))
        .add_node("merge", lambda s: {"items": ["merge"]})
        .add_edge(m.START, "left")
        .add_edge(m.START, "right")
        .add_edge(["left", "right"], "merge")
        .compile()
    )
    return g, {"items": []}, None


@case(nested=True)
def send_to_subgraph(m):
    class S(TypedDict, total=False):
        items: Annotated[list, operator.add]

    def work(state: S):
        return {"items": [f"sub({state['items'][0]})"]}

    sub = m.StateGraph(S).add_node("work", work).add_edge(m.START, "work").compile()

    def fan(state: S):
        return [m.Send("sub", {"items": [x]}) for x in ("k1", "k2")]

    g = (
        m.StateGraph(S)
        .add_node("start", lambda s: {"items": ["start"]})
        .add_node("sub", sub)
        .add_edge(m.START, "start")
        .add_conditional_edges("start", fan, ["sub"])
        .compile()
    )
    return g, {"items": []}, None


# --------------------------------------------------------------------------- writers


@case()
def stream_writer_nested_helpers(m):
    class S(TypedDict, total=False):
        value: int
        notes: Annotated[list, operator.add]

    def deep_helper(x):
        m.get_stream_writer()({"from": "deep_helper", "x": x})
        return x + 1

    def helper(x):
        m.get_stream_writer()({"from": "helper", "x": x})
        return deep_helper(x * 2)

    def lambda_body(x):
        m.get_stream_writer()({"from": "runnable_lambda", "x": x})
        return x - 3

    lam = RunnableLambda(lambda_body)

    def node(state: S):
        v = helper(state["value"])
        v = lam.invoke(v)
        return {"value": v, "notes": ["node"]}

    def node_cfg(state: S, config: RunnableConfig):
        v = lam.invoke(state["value"], config)
        return {"value": v, "notes": ["node_cfg"]}

    g = (
        m.StateGraph(S)
        .add_node("node", node)
        .add_node("node_cfg", node_cfg)
        .add_edge(m.START, "node")
        .add_edge("node", "node_cfg")
        .compile()
    )
    return g, {"value": 5}, None


# --------------------------------------------------------------------------- config / metadata


@case(nested=True)
def config_metadata(m):
    class S(TypedDict, total=False):
        metas: Annotated[list, operator.add]

    def first(state: S, config: RunnableConfig):
        return {"metas": [_meta(config)]}

    def via_get_config(state: S):
        return {"metas": [_meta(m.get_config())]}

    def inner(state: S, config: RunnableConfig):
        return {"metas": [_meta(config)]}

    sub = m.StateGraph(S).add_node("inner", inner).add_edge(m.START, "inner").compile()

    def fan(state: S):
        return [m.Send("pushed", {"metas": []})]

    def pushed(state: S, config: RunnableConfig):
        md = _meta(config)
        md["path"] = [str(p) for p in md["path"][:2]]  # push path ends with the task id/idx
        return {"metas": [md]}

    g = (
        m.StateGraph(S)
        .add_node("first", first)
        .add_node("second", via_get_config)
        .add_node("sub", sub)
        .add_node("pushed", pushed)
        .add_edge(m.START, "first")
        .add_edge("first", "second")
        .add_edge("second", "sub")
        .add_conditional_edges("sub", fan, ["pushed"])
        .compile()
    )
    return g, {"metas": []}, {"metadata": {"user_tag": "t1"}, "tags": ["diff"]}


# --------------------------------------------------------------------------- errors


@case()
def error_in_node(m):
    def ok(state: Counter, writer: m.StreamWriter):
        writer({"ok": state["n"]})
        return {"n": state["n"] + 1, "trail": ["ok"]}

    def boom(state: Counter, writer: m.StreamWriter):
        writer({"about_to_fail": state["n"]})
        raise ValueError(f"boom at n={state['n']}")

    g = (
        m.StateGraph(Counter)
        .add_node("ok", ok)
        .add_node("boom", boom)
        .add_node("unreached", lambda s: {"trail": ["unreached"]})
        .add_edge(m.START, "ok")
        .add_edge("ok", "boom")
        .add_edge("boom", "unreached")
        .compile()
    )
    return g, {"n": 1}, None


@case(nested=True)
def error_in_subgraph(m):
    class S(TypedDict, total=False):
        items: Annotated[list, operator.add]

    def fine(state: S):
        return {"items": ["fine"]}

    def broken(state: S):
        raise KeyError("missing-key")

    sub = (
        m.StateGraph(S)
        .add_node("fine", fine)
        .add_node("broken", broken)
        .add_edge(m.START, "fine")
        .add_edge("fine", "broken")
        .compile()
    )
    g = (
        m.StateGraph(S)
        .add_node("pre", lambda s: {"items": ["pre"]})
        .add_node("sub", sub)
        .add_edge(m.START, "pre")
        .add_edge("pre", "sub")
        .compile()
    )
    return g, {"items": []}, None


@case()
def recursion_limit(m):
    def spin(state: Counter):
        return {"n": state["n"] + 1, "trail": [f"spin{state['n']}"]}

    g = (
        m.StateGraph(Counter)
        .add_node("spin", spin)
        .add_edge(m.START, "spin")
        .add_conditional_edges("spin", lambda s: "spin")
        .compile()
    )
    return g, {"n": 0}, {"recursion_limit": 3}


@case()
def recursion_limit_parallel_loop(m):
    def mk(tag):
        def node(state: Items):
            return {"items": [tag]}

        return node

    b = m.StateGraph(Items)
    b.add_node("x", mk("x"))
    b.add_node("y", mk("y"))
    b.add_edge(m.START, "x")
    b.add_edge(m.START, "y")
    b.add_edge("x", "x")
    b.add_edge("y", "y")
    return b.compile(), {"items": []}, {"recursion_limit": 4}


@case()
def invalid_concurrent_update(m):
    class S(TypedDict, total=False):
        plain: str
        log: Annotated[list, operator.add]

    b = m.StateGraph(S)
    b.add_node("start", lambda s: {"log": ["start"]})
    b.add_node("w1", lambda s: {"plain": "from w1", "log": ["w1"]})
    b.add_node("w2", lambda s: {"plain": "from w2", "log": ["w2"]})
    b.add_node("after", lambda s: {"log": ["after"]})
    b.add_edge(m.START, "start")
    b.add_edge("start", "w1")
    b.add_edge("start", "w2")
    b.add_edge(["w1", "w2"], "after")
    return b.compile(), {"plain": "init"}, None


# --------------------------------------------------------------------------- async


@case(async_only=True)
def async_nodes(m):
    class S(TypedDict, total=False):
        n: int
        log: Annotated[list, operator.add]

    async def first(state: S, writer: m.StreamWriter):
        await asyncio.sleep(0)
        writer({"async": "first"})
        return {"n": state["n"] + 1, "log": ["first"]}

    async def second(state: S):
        await asyncio.sleep(0)
        m.get_stream_writer()({"async": "second"})
        return {"n": state["n"] * 2, "log": ["second"]}

    def sync_third(state: S):
        return {"log": [f"third:{state['n']}"]}

    g = (
        m.StateGraph(S)
        .add_node("first", first)
        .add_node("second", second)
        .add_node("third", sync_third)
        .add_edge(m.START, "first")
        .add_edge("first", "second")
        .add_edge("second", "third")
        .compile()
    )
    return g, {"n": 3}, None


@case(async_only=True, nested=True)
def async_parallel_and_subgraph(m):
    class S(TypedDict, total=False):
        items: Annotated[list, operator.add]

    async def sub_node(state: S):
        await asyncio.sleep(0)
        m.get_stream_writer()({"node": "sub_node"})
        return {"items": ["sub_node"]}

    sub = m.StateGraph(S).add_node("sub_node", sub_node).add_edge(m.START, "sub_node").compile()

    def mk(tag):
        async def node(state: S):
            await asyncio.sleep(0)
            m.get_stream_writer()({"node": tag})
            return {"items": [tag]}

        return node

    async def call_sub(state: S):
        out = await sub.ainvoke({"items": []})
        return {"items": [f"called:{out['items']}"]}

    b = m.StateGraph(S)
    b.add_node("p1", mk("p1"))
    b.add_node("p2", mk("p2"))
    b.add_node("sub", sub)
    b.add_node("call_sub", call_sub)
    b.add_edge(m.START, "p1")
    b.add_edge(m.START, "p2")
    b.add_edge(m.START, "sub")
    b.add_edge(["p1", "p2", "sub"], "call_sub")
    return b.compile(), {"items": []}, None


@case(async_only=True)
def async_error(m):
    class S(TypedDict, total=False):
        n: int

    async def fail(state: S):
        await asyncio.sleep(0)
        m.get_stream_writer()({"before": "raise"})
        raise RuntimeError("async failure")

    g = (
        m.StateGraph(S)
        .add_node("inc", lambda s: {"n": s["n"] + 1})
        .add_node("fail", fail)
        .add_edge(m.START, "inc")
        .add_edge("inc", "fail")
        .compile()
    )
    return g, {"n": 0}, None
