"""Human in the loop (issue #11): ``interrupt()``, ``Command(resume/update/goto)``,
``interrupt_before`` / ``interrupt_after``, interrupts in subgraphs, tools and Send tasks.

Each scenario runs on LangGraph and on the candidate, each with its own recording saver
(``harness.compare`` machinery): the streams of the interrupted run and of each resume, the
invoke results, ``get_state`` at every pause and at the end, ``get_state_history``, the saved
checkpoints with their pending writes (``__interrupt__``, ``__resume__``) and the saver calls
must be equal after normalization, plus the node calls (an interrupted node re-runs from its
first line on resume).

Normalization on top of ``normalize.normalize_trace``:

* interrupt ids (32-hex xxh3 of the task's checkpoint namespace, so they change with the task
  ids) are rewritten as ``"iid:" + <uuid form>`` before the trace is normalized, so they become
  ``iid:<id:N>`` placeholders numbered with the other ids by order of first appearance;
* ``Interrupt`` objects compare by class name and ``value`` / ``id`` / ``response_schema``
  (``normalize.freeze``): the classes differ between the runtimes;
* internal ``__pregel_*`` keys are dropped from every dict: LangGraph's
  ``get_state(subgraphs=True)`` on a subgraph that has not started yet (paused before it)
  shows an empty inner snapshot whose config leaks ``__pregel_checkpointer`` (the saver
  object).

Resume maps ``{interrupt_id: value}`` are built inside the scenario from that runtime's own
``get_state().interrupts``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .harness import CANDIDATE_PREFIX, ORACLE_PREFIX, Rt, compare_traces, impl, run_scenario
from .interrupt_graphs import (
    ALL_MODES,
    Calls,
    Decision,
    ask_and_fail,
    ask_chain,
    cfg,
    hitl,
    nested_ask,
    parallel_asks,
    plain_chain,
    schema_ask,
    send_asks,
    subgraph_in_node,
    tool_ask,
    two_questions,
)

# --------------------------------------------------------------------------- comparing

IID_RE = re.compile(r"(?<![0-9a-fA-F\-.:])[0-9a-f]{32}(?![0-9a-fA-F\-.])")


def _iid(mt: re.Match) -> str:
    h = mt.group(0)
    return f"iid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def mark_interrupt_ids(x: Any) -> Any:
    """32-hex interrupt ids -> ``iid:<uuid form>`` (then numbered as ids by the harness);
    ``__pregel_*`` keys dropped (see the module docstring)."""
    if isinstance(x, str):
        return IID_RE.sub(_iid, x)
    if isinstance(x, dict):
        return {
            mark_interrupt_ids(k): mark_interrupt_ids(v)
            for k, v in x.items()
            if not (isinstance(k, str) and k.startswith("__pregel_"))
        }
    if isinstance(x, tuple):
        return tuple(mark_interrupt_ids(v) for v in x)
    if isinstance(x, list):
        return [mark_interrupt_ids(v) for v in x]
    return x


def compare_hitl(scenario, name: str | None = None) -> None:
    """``harness.compare`` with interrupt ids marked as ids in both traces."""
    name = name or scenario.__name__
    expected = run_scenario(scenario, Rt(impl(ORACLE_PREFIX)))
    got = run_scenario(scenario, Rt(impl(CANDIDATE_PREFIX)))
    compare_traces(name, mark_interrupt_ids(expected), mark_interrupt_ids(got), CANDIDATE_PREFIX)


def compare_cross_hitl(scenario, name: str | None = None) -> None:
    """``harness.compare_cross`` with interrupt ids marked: LangGraph for both turns is the
    expectation; LangGraph then the candidate, and the candidate then LangGraph."""
    name = name or scenario.__name__
    lg, cand = impl(ORACLE_PREFIX), impl(CANDIDATE_PREFIX)
    expected = mark_interrupt_ids(run_scenario(scenario, Rt(lg, (lg, lg))))
    failures = []
    for turns, who in (((lg, cand), f"langgraph->{cand.prefix}"), ((cand, lg), f"{cand.prefix}->langgraph")):
        got = mark_interrupt_ids(run_scenario(scenario, Rt(lg, turns)))
        try:
            compare_traces(name, expected, got, who)
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        raise AssertionError("\n\n".join(failures))


def test_mark_interrupt_ids():
    iid = "d929d524b7d3f7370e2802162fddecab"
    assert mark_interrupt_ids({iid: [("x", iid)]}) == {
        "iid:d929d524-b7d3-f737-0e28-02162fddecab": [("x", "iid:d929d524-b7d3-f737-0e28-02162fddecab")]
    }
    # uuids, frozen channel versions and longer hex strings are left alone
    kept = ["49e18666-3902-de48-7a81-a44f39b1628d", "<v:2>", iid + "0", "ns:" + iid[:31]]
    assert mark_interrupt_ids(kept) == kept
    assert mark_interrupt_ids({"configurable": {"__pregel_checkpointer": 1, "thread_id": "t"}}) == {
        "configurable": {"thread_id": "t"}
    }


# --------------------------------------------------------------------------- helpers

# (stream_mode, version): every mode alone, all of them, and v2 parts
MODES = [
    (None, "v1"),
    ("values", "v1"),
    ("updates", "v1"),
    ("checkpoints", "v1"),
    ("tasks", "v1"),
    ("debug", "v1"),
    (ALL_MODES, "v1"),
    (ALL_MODES, "v2"),
    ("values", "v2"),
]
MODE_IDS = ["default", "values", "updates", "checkpoints", "tasks", "debug", "all", "all-v2", "values-v2"]
# a shorter matrix for the scenarios that are not about the stream shapes
SOME_MODES = [(None, "v1"), ("values", "v1"), (ALL_MODES, "v1"), (ALL_MODES, "v2")]
SOME_IDS = ["default", "values", "all", "all-v2"]


def _pause(rt: Rt, g, label: str, tid: str = "t1", **kwargs: Any):
    """The thread at a pause: ``get_state`` and the saved checkpoints."""
    return rt.state(f"get_state {label}", g, cfg(tid), **kwargs)


def _end(rt: Rt, g, saver, calls: Calls, tid: str = "t1", *, sort: bool = False) -> None:
    """The thread at the end of a scenario, every way it can be read, and the node calls."""
    rt.record("node calls", calls.sorted_calls() if sort else calls.calls)
    rt.state("get_state at the end", g, cfg(tid))
    rt.history("get_state_history", g, cfg(tid))
    rt.saved("saver.list", saver, tid)
    rt.calls("saver calls", saver)


def _resume_map(snap, answer) -> dict:
    """``{interrupt id: answer(interrupt value)}`` for every interrupt of a snapshot."""
    return {i.id: answer(i.value) for i in (snap.interrupts if snap else ())}


# --------------------------------------------------------------------------- 1. one interrupt


@pytest.mark.parametrize(("mode", "version"), MODES, ids=MODE_IDS)
def test_single_interrupt_then_resume(mode, version):
    """persistence.md §6.1/§6.2: a -> ask; ``ask`` interrupts; Command(resume) re-runs it."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls)
        kw = {"stream_mode": mode, "version": version}
        rt.stream("run until the interrupt", g, {"x": 1}, cfg("t1"), **kw)
        _pause(rt, g, "at the interrupt")
        rt.saved("saver.list at the interrupt", saver, "t1")
        rt.stream("resume", g, m.Command(resume="forty-two"), cfg("t1"), **kw)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


@pytest.mark.parametrize("method", ["sync", "async"])
def test_single_interrupt_invoke_v1_v2(method):
    """invoke at the pause: v1 ``{..., '__interrupt__': [Interrupt]}``, v2 ``GraphOutput``;
    after the resume v2 has ``interrupts=()``."""

    def scenario(rt: Rt) -> None:
        m = hitl(rt.m)
        invoke = rt.invoke if method == "sync" else rt.ainvoke
        for version in ("v1", "v2"):
            calls, saver = Calls(), rt.saver()
            g = ask_chain(m, saver, calls, then_b=True)
            tid = f"t-{version}"
            invoke(f"{version}: invoke until the interrupt", g, {"x": 1}, cfg(tid), version=version)
            _pause(rt, g, f"{version}: at the interrupt", tid)
            invoke(
                f"{version}: invoke(Command(resume))", g, m.Command(resume="yes"), cfg(tid), version=version
            )
            _end(rt, g, saver, calls, tid)

    compare_hitl(scenario)


def test_single_interrupt_astream():
    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.astream("astream until the interrupt", g, {"x": 1}, cfg("t1"), stream_mode=ALL_MODES)
        rt.astate("aget_state at the interrupt", g, cfg("t1"))
        rt.astream("astream(Command(resume))", g, m.Command(resume="ok"), cfg("t1"), stream_mode=ALL_MODES)
        rt.ahistory("aget_state_history", g, cfg("t1"))
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


def test_replay_from_before_the_interrupt_asks_again():
    """Time travel: the checkpoint that paused (next=('ask',)) replayed after the resume:
    its old ``__interrupt__``/``__resume__`` writes are dropped, ``ask`` interrupts again."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.invoke("run", g, {"x": 1}, cfg("t1"))
        paused = g.get_state(cfg("t1")).config
        rt.invoke("resume", g, m.Command(resume="first"), cfg("t1"))
        rt.stream("replay the paused checkpoint", g, None, paused, stream_mode=ALL_MODES)
        _pause(rt, g, "after the replay")
        rt.stream("resume the fork", g, m.Command(resume="second"), cfg("t1"), stream_mode=ALL_MODES)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_single_interrupt_durability(durability):
    """What is saved at the pause and after the resume under durability sync and exit (exit:
    the run's checkpoints and the interrupt's writes only when the run stops)."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        rt.durability = durability
        g = ask_chain(m, saver, calls, then_b=True)
        rt.stream("run", g, {"x": 1}, cfg("t1"), stream_mode=ALL_MODES)
        _pause(rt, g, "at the interrupt")
        rt.saved("saver.list at the interrupt", saver, "t1")
        rt.stream("resume", g, m.Command(resume="durable"), cfg("t1"), stream_mode=ALL_MODES)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


def test_resume_an_older_paused_checkpoint():
    """After the thread went on, Command(resume) addressed to the checkpoint that paused
    answers it again with another value: a fork from that checkpoint."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.invoke("run", g, {"x": 1}, cfg("t1"))
        paused = g.get_state(cfg("t1")).config
        rt.invoke("resume", g, m.Command(resume="first"), cfg("t1"))
        rt.state("get_state(paused checkpoint)", g, paused)
        rt.stream(
            "resume the paused checkpoint again", g, m.Command(resume="second"), paused, stream_mode=ALL_MODES
        )
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


@pytest.mark.parametrize(
    "schema",
    [Decision, {"type": "string", "maxLength": 3}],
    ids=["pydantic", "json-schema-dict"],
)
def test_interrupt_with_response_schema(schema):
    """``interrupt(value, response_schema=...)``: a model is surfaced as JSON Schema, the
    answer validated into it, a bad answer raises ValidationError and saves nothing; a JSON
    Schema dict is surfaced as is and the answer is not validated."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = schema_ask(m, saver, calls, schema)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES)
        _pause(rt, g, "at the interrupt")
        rt.stream("bad answer", g, m.Command(resume={"ok": "perhaps"}), cfg("t1"), stream_mode="updates")
        _pause(rt, g, "after the bad answer")
        rt.saved("saver.list after the bad answer", saver, "t1")
        rt.invoke("good answer", g, m.Command(resume={"ok": True, "note": "fine"}), cfg("t1"), version="v2")
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 2. two in one node


@pytest.mark.parametrize(("mode", "version"), SOME_MODES, ids=SOME_IDS)
def test_two_sequential_interrupts_in_one_node(mode, version):
    """``ask2`` asks twice: the first resume answers the first and interrupts with the second
    (a new id), the second resume answers it; the node re-runs from the top each time."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = two_questions(m, saver, calls)
        kw = {"stream_mode": mode, "version": version}
        rt.stream("run", g, {"log": []}, cfg("t1"), **kw)
        _pause(rt, g, "at the first question")
        rt.stream("resume 1", g, m.Command(resume="one"), cfg("t1"), **kw)
        _pause(rt, g, "at the second question")
        rt.saved("saver.list at the second question", saver, "t1")
        rt.stream("resume 2", g, m.Command(resume="two"), cfg("t1"), **kw)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


def test_two_sequential_interrupts_resumed_by_id():
    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = two_questions(m, saver, calls)
        rt.invoke("run", g, {"log": []}, cfg("t1"))
        snap = _pause(rt, g, "at the first question")
        rt.invoke("resume 1 by id", g, m.Command(resume=_resume_map(snap, lambda v: f"#{v['n']}")), cfg("t1"))
        snap = _pause(rt, g, "at the second question")
        rt.stream(
            "resume 2 by id",
            g,
            m.Command(resume=_resume_map(snap, lambda v: f"#{v['n']}")),
            cfg("t1"),
            stream_mode=ALL_MODES,
        )
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 3. parallel


@pytest.mark.parametrize(("mode", "version"), [*SOME_MODES, ("updates", "v1")], ids=[*SOME_IDS, "updates"])
def test_parallel_interrupts_resumed_by_id_map(mode, version):
    """p1 and p2 interrupt in one step (``quiet`` finishes): one ``updates`` (+ ``values``)
    per interrupt; both resumed at once with ``{id: value}`` from ``get_state().interrupts``."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = parallel_asks(m, saver, calls)
        kw = {"stream_mode": mode, "version": version, "parallel": True}
        calls.order("quiet", "p1", "p2")
        rt.stream("run", g, {"log": []}, cfg("t1"), **kw)
        snap = _pause(rt, g, "at the interrupts")
        rt.saved("saver.list at the interrupts", saver, "t1")
        calls.order()
        answers = _resume_map(snap, lambda v: v.replace("from", "to"))
        rt.stream("resume both by id", g, m.Command(resume=answers), cfg("t1"), **kw)
        _end(rt, g, saver, calls, sort=True)

    compare_hitl(scenario)


def test_parallel_interrupts_plain_resume_is_ambiguous():
    """A plain resume value with two pending interrupts: RuntimeError, nothing saved; then
    one by id (the other asks again), then the last one with a plain value."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = parallel_asks(m, saver, calls)
        calls.order("quiet", "p1", "p2")
        rt.invoke("run", g, {"log": []}, cfg("t1"))
        snap = _pause(rt, g, "at the interrupts")
        calls.order()
        rt.stream(
            "plain resume", g, m.Command(resume="which?"), cfg("t1"), stream_mode=ALL_MODES, parallel=True
        )
        rt.invoke("plain resume (invoke)", g, m.Command(resume="which?"), cfg("t1"))
        _pause(rt, g, "after the refused resume")
        rt.saved("saver.list after the refused resume", saver, "t1")
        p1 = {i.id: "p1 only" for i in (snap.interrupts if snap else ()) if i.value == "from p1"}
        calls.order("p1", "p2")
        rt.stream("resume p1 by id", g, m.Command(resume=p1), cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        _pause(rt, g, "p2 still pending")
        calls.order()
        rt.stream("plain resume of p2", g, m.Command(resume="p2 last"), cfg("t1"), stream_mode=ALL_MODES)
        _end(rt, g, saver, calls, sort=True)

    compare_hitl(scenario)


@pytest.mark.parametrize("durability", ["async", "sync", "exit"])
def test_interrupt_next_to_a_failing_sibling(durability):
    """p1 interrupts, then its sibling ``bad`` raises in the same step: the run raises, the
    interrupt and the error are both pending; Command(resume) while still broken answers
    p1 (its writes are saved) and fails again; once fixed, a resume re-runs ``bad`` only
    (p1's writes are reused: its answer stays the first one). ``p1`` writes to the
    custom stream before asking, again on every re-run."""

    def scenario(rt: Rt) -> None:
        m, calls, saver, broken = hitl(rt.m), Calls(), rt.saver(), [True]
        rt.durability = durability
        g = ask_and_fail(m, saver, calls, broken)
        modes = (*ALL_MODES, "custom")
        calls.order("p1", "bad")
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=modes, parallel=True)
        _pause(rt, g, "after the failure")
        rt.saved("saver.list after the failure", saver, "t1")
        calls.order("p1", "bad")  # p1 answered and done before bad raises again
        rt.stream(
            "resume, still broken", g, m.Command(resume="early"), cfg("t1"), stream_mode=modes, parallel=True
        )
        _pause(rt, g, "after the second failure")
        broken.clear()
        calls.order()
        rt.stream("resume, fixed", g, m.Command(resume="late"), cfg("t1"), stream_mode=modes, parallel=True)
        _end(rt, g, saver, calls, sort=True)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 4. Command forms


@pytest.mark.parametrize(("mode", "version"), SOME_MODES, ids=SOME_IDS)
def test_command_resume_with_update(mode, version):
    """Command(resume, update): the update is applied first (the first ``values`` shows it)."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.invoke("run", g, {"x": 1}, cfg("t1"))
        cmd = m.Command(resume="updated", update={"x": 99, "log": ["human"]})
        rt.stream("resume with update", g, cmd, cfg("t1"), stream_mode=mode, version=version)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


@pytest.mark.parametrize("goto", ["b", "a"])
def test_command_resume_with_goto(goto):
    """Command(resume, goto): the goto node runs in the resumed step next to ``ask``; with
    goto='a', ``a`` leads to ``ask`` again, which asks again (a new interrupt id)."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.invoke("run", g, {"x": 1}, cfg("t1"))
        if goto == "a":  # then ask interrupts next to b (step 3): ask first, then b
            calls.order("ask", "b")
        cmd = m.Command(resume="went", goto=goto)
        rt.stream("resume with goto", g, cmd, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        _pause(rt, g, "after the goto")
        _end(rt, g, saver, calls, sort=True)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 5. static interrupts


@pytest.mark.parametrize(("mode", "version"), [*SOME_MODES, ("updates", "v1")], ids=[*SOME_IDS, "updates"])
def test_interrupt_before_at_compile_then_dynamic_interrupt(mode, version):
    """interrupt_before=['ask']: pause before ``ask`` (``{'__interrupt__': ()}``, no
    interrupts in the state); None continues, ``ask`` itself interrupts; resume to the end."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True, interrupt_before=["ask"])
        kw = {"stream_mode": mode, "version": version}
        rt.stream("run", g, {"x": 1}, cfg("t1"), **kw)
        _pause(rt, g, "before ask")
        rt.stream("continue with None", g, None, cfg("t1"), **kw)
        _pause(rt, g, "at ask's interrupt")
        rt.stream("resume", g, m.Command(resume="after the breakpoint"), cfg("t1"), **kw)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


@pytest.mark.parametrize(("mode", "version"), SOME_MODES, ids=SOME_IDS)
def test_interrupt_after_at_compile(mode, version):
    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = plain_chain(m, saver, calls, interrupt_after=["a"])
        kw = {"stream_mode": mode, "version": version}
        rt.stream("run", g, {"x": 1}, cfg("t1"), **kw)
        _pause(rt, g, "after a")
        rt.stream("continue with None", g, None, cfg("t1"), **kw)
        rt.stream("turn 2 pauses after a again", g, {"x": 5}, cfg("t1"), **kw)
        _pause(rt, g, "turn 2 after a")
        rt.invoke("continue (invoke)", g, None, cfg("t1"))
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


@pytest.mark.parametrize(
    "when",
    [
        {"interrupt_before": ["b"]},
        {"interrupt_after": ["a", "b"]},
        {"interrupt_before": ["b"], "interrupt_after": ["b"]},
        {"interrupt_before": "*"},
        {"interrupt_after": "*"},
    ],
    ids=["before-b", "after-a-b", "before-and-after-b", "before-*", "after-*"],
)
def test_static_interrupts_per_call(when):
    """interrupt_before / interrupt_after given to stream(): the continuation with None and
    the same arguments stops at every breakpoint until the end; a call without them runs on."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = plain_chain(m, saver, calls)
        rt.stream("run", g, {"x": 1}, cfg("t1"), stream_mode=ALL_MODES, **when)
        for i in range(4):
            _pause(rt, g, f"pause {i}")
            rt.stream(
                f"continue {i}", g, None, cfg("t1"), stream_mode=("values", "updates", "checkpoints"), **when
            )
        rt.stream("turn 2", g, {"x": 10}, cfg("t1"), **when)
        rt.stream("turn 2 without breakpoints", g, None, cfg("t1"), stream_mode="values")
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


@pytest.mark.parametrize("when", ["interrupt_before", "interrupt_after"])
def test_static_interrupts_star_at_compile(when):
    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = plain_chain(m, saver, calls, **{when: "*"})
        rt.stream("run", g, {"x": 1}, cfg("t1"), stream_mode=ALL_MODES, version="v2")
        for i in range(3):
            _pause(rt, g, f"pause {i}")
            rt.invoke(f"continue {i} (invoke v2)", g, None, cfg("t1"), version="v2")
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 6. subgraphs


SUB_MODES = [
    (None, "v1", False),
    ("values", "v1", False),
    ("updates", "v1", True),
    (ALL_MODES, "v1", True),
    (ALL_MODES, "v2", True),
    (ALL_MODES, "v1", False),
]
SUB_IDS = ["default", "values", "updates-subgraphs", "all-subgraphs", "all-v2-subgraphs", "all"]


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize(("mode", "version", "subgraphs"), SUB_MODES, ids=SUB_IDS)
def test_interrupt_in_a_subgraph(depth, mode, version, subgraphs):
    """pre -> sub(s1 -> inner_ask) -> post (depth 1) or sub(mid -> deep(s1 -> inner_ask))
    (depth 2): the inner interrupt pauses the parent; Command(resume) through the parent
    resumes the subgraph from its own checkpoint."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = nested_ask(m, saver, calls, depth=depth)
        kw = {"stream_mode": mode, "version": version, "subgraphs": subgraphs}
        rt.stream("run", g, {"log": []}, cfg("t1"), **kw)
        _pause(rt, g, "at the inner interrupt")
        _pause(rt, g, "at the inner interrupt (subgraphs=True)", subgraphs=True)
        rt.saved("saver.list at the inner interrupt", saver, "t1")
        rt.stream("resume through the parent", g, m.Command(resume="deep answer"), cfg("t1"), **kw)
        _pause(rt, g, "at the end (subgraphs=True)", subgraphs=True)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


def test_interrupt_in_a_subgraph_astream():
    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = nested_ask(m, saver, calls, depth=2)
        kw = {"stream_mode": ALL_MODES, "subgraphs": True}
        rt.astream("astream", g, {"log": []}, cfg("t1"), **kw)
        rt.astate("aget_state(subgraphs=True)", g, cfg("t1"), subgraphs=True)
        rt.astream("astream(Command(resume))", g, m.Command(resume="async answer"), cfg("t1"), **kw)
        rt.ahistory("aget_state_history", g, cfg("t1"))
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


@pytest.mark.parametrize(
    ("outer", "inner"),
    [
        ({"interrupt_before": ["sub"]}, {}),
        ({"interrupt_after": ["sub"]}, {}),
        ({}, {"interrupt_before": ["inner_ask"]}),
        ({}, {"interrupt_after": ["s1"]}),
    ],
    ids=["before-sub", "after-sub", "inner-before-inner_ask", "inner-after-s1"],
)
def test_static_interrupts_around_and_inside_a_subgraph(outer, inner):
    """Breakpoints on the subgraph node, and compiled into the subgraph itself: None
    continues to the dynamic interrupt inside, Command(resume) to the end."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = nested_ask(m, saver, calls, inner=inner, **outer)
        kw = {"stream_mode": ALL_MODES, "subgraphs": True}
        rt.stream("run", g, {"log": []}, cfg("t1"), **kw)
        _pause(rt, g, "at the breakpoint (subgraphs=True)", subgraphs=True)
        rt.stream("continue with None", g, None, cfg("t1"), **kw)
        _pause(rt, g, "next pause (subgraphs=True)", subgraphs=True)
        rt.stream("resume", g, m.Command(resume="past the breakpoints"), cfg("t1"), **kw)
        rt.stream("continue with None again", g, None, cfg("t1"), **kw)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


def test_interrupt_in_a_subgraph_invoked_by_a_node():
    """A node that calls ``sub.invoke(...)`` itself: the inner interrupt pauses the outer run;
    on resume the node re-runs and the inner graph resumes its own checkpoint."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = subgraph_in_node(m, saver, calls)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES, subgraphs=True)
        _pause(rt, g, "at the inner interrupt")
        rt.stream("resume", g, m.Command(resume="called"), cfg("t1"), stream_mode=ALL_MODES, subgraphs=True)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 7. ToolNode


def test_interrupt_in_a_tool():
    """A tool run by ToolNode asks for approval; the resume re-runs the tool, its message
    lands in the state."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = tool_ask(m, saver, calls)
        msg = {"messages": [{"role": "user", "content": "send 7", "id": "u-1"}]}
        rt.stream("run", g, msg, cfg("t1"), stream_mode=ALL_MODES)
        _pause(rt, g, "at the approval")
        rt.stream("approve", g, m.Command(resume="yes"), cfg("t1"), stream_mode=ALL_MODES)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 8. Send


@pytest.mark.parametrize(
    ("mode", "version"),
    [(None, "v1"), (ALL_MODES, "v1"), (ALL_MODES, "v2")],
    ids=["default", "all", "all-v2"],
)
def test_interrupts_in_send_tasks(mode, version):
    """Two push tasks (Send) interrupt in one step; resumed by id map; ``reduce`` then runs."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = send_asks(m, saver, calls)
        kw = {"stream_mode": mode, "version": version, "parallel": True}
        calls.order("worker1", "worker2")
        rt.stream("run", g, {"items": [1, 2]}, cfg("t1"), **kw)
        snap = _pause(rt, g, "at the interrupts")
        rt.saved("saver.list at the interrupts", saver, "t1")
        calls.order()
        rt.stream(
            "resume by id", g, m.Command(resume=_resume_map(snap, lambda v: v["item"] + 10)), cfg("t1"), **kw
        )
        _end(rt, g, saver, calls, sort=True)

    compare_hitl(scenario)


def test_interrupt_in_one_send_task_plain_resume():
    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = send_asks(m, saver, calls)
        rt.stream("run", g, {"items": [3]}, cfg("t1"), stream_mode=ALL_MODES)
        _pause(rt, g, "at the interrupt")
        rt.stream("resume", g, m.Command(resume=2), cfg("t1"), stream_mode=ALL_MODES)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 9. no checkpointer


@pytest.mark.parametrize(("mode", "version"), MODES, ids=MODE_IDS)
def test_interrupt_without_checkpointer(mode, version):
    """No checkpointer: the interrupt is streamed and the run ends without raising."""

    def scenario(rt: Rt) -> None:
        m, calls = hitl(rt.m), Calls()
        g = ask_chain(m, None, calls, then_b=True)
        rt.stream("run", g, {"x": 1}, None, stream_mode=mode, version=version)
        rt.record("node calls", calls.calls)

    compare_hitl(scenario)


def test_resume_without_checkpointer_raises():
    def scenario(rt: Rt) -> None:
        m, calls = hitl(rt.m), Calls()
        g = ask_chain(m, None, calls, then_b=True)
        rt.invoke("invoke v1", g, {"x": 1}, cfg("t1"))
        rt.invoke("invoke v2", g, {"x": 1}, cfg("t1"), version="v2")
        rt.invoke("invoke(Command(resume))", g, m.Command(resume="x"), cfg("t1"))
        rt.stream("stream(Command(resume))", g, m.Command(resume="x"), None, stream_mode=ALL_MODES)
        rt.ainvoke("ainvoke(Command(resume))", g, m.Command(resume="x"), None)
        rt.record("node calls", calls.calls)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- 10. odd resumes, update_state


def test_resume_a_finished_thread():
    """Command(resume) with nothing pending: the thread is done, nothing runs.

    (Not compared: an empty ``Command()``, on which LangGraph 1.2.22 raises
    ``UnboundLocalError: cannot access local variable 'resume_is_map'``, a bug.)"""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.invoke("run", g, {"x": 1}, cfg("t1"))
        rt.invoke("resume", g, m.Command(resume="done"), cfg("t1"))
        rt.stream("resume a finished thread", g, m.Command(resume="again"), cfg("t1"), stream_mode=ALL_MODES)
        rt.invoke(
            "resume a finished thread (invoke v2)", g, m.Command(resume="again"), cfg("t1"), version="v2"
        )
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


def test_resume_a_new_thread():
    """Command(resume) on a thread without checkpoints: the graph runs from its start (the
    Command is the input) and ``ask`` interrupts; LangGraph also saves the null task's
    ``__resume__`` write against the id of the empty checkpoint it started from (step -2,
    never put)."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.stream("resume a new thread", g, m.Command(resume="nobody"), cfg("t2"), stream_mode=ALL_MODES)
        _end(rt, g, saver, calls, "t2")

    compare_hitl(scenario)


def test_update_state_on_a_paused_thread_then_continue():
    """update_state while ``ask`` waits: the new checkpoint still has ``ask`` next; None
    re-runs it, it asks again (a new task, a new interrupt id); then the resume."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.invoke("run", g, {"x": 1}, cfg("t1"))
        rt.update("update_state", g, cfg("t1"), {"x": 50, "log": ["edited"]})
        _pause(rt, g, "after the update")
        rt.stream("continue with None", g, None, cfg("t1"), stream_mode=ALL_MODES)
        _pause(rt, g, "asked again")
        rt.stream("resume", g, m.Command(resume="after edit"), cfg("t1"), stream_mode=ALL_MODES)
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


def test_update_state_as_the_interrupted_node():
    """update_state(as_node='ask') answers in the node's place: ``b`` is next, ``ask``
    never resumes."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.invoke("run", g, {"x": 1}, cfg("t1"))
        rt.update(
            "update_state as ask", g, cfg("t1"), {"answer": "by hand", "log": ["ask (manual)"]}, as_node="ask"
        )
        _pause(rt, g, "after the update")
        rt.stream("continue with None", g, None, cfg("t1"), stream_mode=ALL_MODES)
        rt.stream(
            "resume now that nothing is pending",
            g,
            m.Command(resume="late"),
            cfg("t1"),
            stream_mode="updates",
        )
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


def test_new_input_on_a_paused_thread():
    """New input instead of a resume: the pending interrupt is dropped, the run starts over
    and ``ask`` interrupts again."""

    def scenario(rt: Rt) -> None:
        m, calls, saver = hitl(rt.m), Calls(), rt.saver()
        g = ask_chain(m, saver, calls, then_b=True)
        rt.invoke("run", g, {"x": 1}, cfg("t1"))
        rt.stream("new input", g, {"x": 7}, cfg("t1"), stream_mode=ALL_MODES)
        _pause(rt, g, "asked again")
        rt.invoke("resume", g, m.Command(resume="second turn"), cfg("t1"))
        _end(rt, g, saver, calls)

    compare_hitl(scenario)


# --------------------------------------------------------------------------- across the runtimes


def _read_back(rt: Rt, g1, g2, saver, calls: Calls, tid: str = "t1", *, sort: bool = False) -> None:
    rt.record("node calls", calls.sorted_calls() if sort else calls.calls)
    rt.state("get_state via turn-2 graph", g2, cfg(tid))
    rt.state("get_state via turn-1 graph", g1, cfg(tid))
    rt.history("get_state_history via turn-2 graph", g2, cfg(tid))
    rt.history("get_state_history via turn-1 graph", g1, cfg(tid))
    rt.saved("saver.list", saver, tid)
    rt.calls("saver calls", saver)


def test_cross_runtime_single_interrupt():
    """Paused on one runtime, resumed on the other: the saved ``__interrupt__`` write (an
    ``Interrupt`` of the other runtime's class) is read back and answered."""

    def scenario(rt: Rt) -> None:
        (m1, m2), calls, saver = (hitl(m) for m in rt.turns), Calls(), rt.saver()
        g1, g2 = ask_chain(m1, saver, calls, then_b=True), ask_chain(m2, saver, calls, then_b=True)
        rt.stream("turn 1: run", g1, {"x": 1}, cfg("t1"), stream_mode=ALL_MODES)
        rt.state("get_state at the interrupt via turn-2 graph", g2, cfg("t1"))
        rt.stream("turn 2: resume", g2, m2.Command(resume="crossed"), cfg("t1"), stream_mode=ALL_MODES)
        _read_back(rt, g1, g2, saver, calls)

    compare_cross_hitl(scenario)


def test_cross_runtime_parallel_interrupts_by_id():
    """Interrupt ids made by one runtime resume the tasks on the other (ids are the same
    xxh3 of the same task namespaces)."""

    def scenario(rt: Rt) -> None:
        (m1, m2), calls, saver = (hitl(m) for m in rt.turns), Calls(), rt.saver()
        g1, g2 = parallel_asks(m1, saver, calls), parallel_asks(m2, saver, calls)
        calls.order("quiet", "p1", "p2")
        rt.stream("turn 1: run", g1, {"log": []}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        snap = rt.state("get_state via turn-1 graph", g1, cfg("t1"))
        calls.order()
        answers = _resume_map(snap, lambda v: v.upper())
        rt.stream(
            "turn 2: resume by id",
            g2,
            m2.Command(resume=answers),
            cfg("t1"),
            stream_mode=ALL_MODES,
            parallel=True,
        )
        _read_back(rt, g1, g2, saver, calls, sort=True)

    compare_cross_hitl(scenario)


def test_cross_runtime_second_question():
    """Turn 1 answers the first of two questions on one runtime, turn 2 the second on the
    other: the saved ``__resume__`` answers replay there."""

    def scenario(rt: Rt) -> None:
        (m1, m2), calls, saver = (hitl(m) for m in rt.turns), Calls(), rt.saver()
        g1, g2 = two_questions(m1, saver, calls), two_questions(m2, saver, calls)
        rt.invoke("turn 1: run", g1, {"log": []}, cfg("t1"))
        rt.invoke("turn 1: first answer", g1, m1.Command(resume="one"), cfg("t1"))
        rt.stream("turn 2: second answer", g2, m2.Command(resume="two"), cfg("t1"), stream_mode=ALL_MODES)
        _read_back(rt, g1, g2, saver, calls)

    compare_cross_hitl(scenario)


def test_cross_runtime_subgraph_interrupt():
    def scenario(rt: Rt) -> None:
        (m1, m2), calls, saver = (hitl(m) for m in rt.turns), Calls(), rt.saver()
        g1, g2 = nested_ask(m1, saver, calls, depth=2), nested_ask(m2, saver, calls, depth=2)
        kw = {"stream_mode": ALL_MODES, "subgraphs": True}
        rt.stream("turn 1: run", g1, {"log": []}, cfg("t1"), **kw)
        rt.state("get_state(subgraphs=True) via turn-2 graph", g2, cfg("t1"), subgraphs=True)
        rt.stream("turn 2: resume", g2, m2.Command(resume="across"), cfg("t1"), **kw)
        _read_back(rt, g1, g2, saver, calls)

    compare_cross_hitl(scenario)


def test_cross_runtime_interrupt_before():
    def scenario(rt: Rt) -> None:
        (m1, m2), calls, saver = (hitl(m) for m in rt.turns), Calls(), rt.saver()
        g1 = plain_chain(m1, saver, calls, interrupt_before=["b"])
        g2 = plain_chain(m2, saver, calls, interrupt_before=["b"])
        rt.stream("turn 1: run", g1, {"x": 1}, cfg("t1"), stream_mode=ALL_MODES)
        rt.stream("turn 2: continue", g2, None, cfg("t1"), stream_mode=ALL_MODES)
        _read_back(rt, g1, g2, saver, calls)

    compare_cross_hitl(scenario)
