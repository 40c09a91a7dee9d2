"""``interrupt()`` inside an entrypoint after tasks ran and inside a task; resuming with
``Command(resume=...)`` does not run finished tasks again (the call log is part of the trace);
two interrupts in sequence; parallel tasks that both interrupt."""

import pytest

from ..persistence.graphs import ALL_MODES, cfg
from .harness import CANDIDATE_PREFIX, ORACLE_PREFIX, Calls, Gate, Rt, compare_func, fapi

MODES = [
    (None, False, "v1"),
    ("values", False, "v1"),
    ("updates", False, "v1"),
    ("tasks", False, "v1"),
    ("debug", False, "v1"),
    ("checkpoints", False, "v1"),
    (ALL_MODES, False, "v1"),
    (ALL_MODES, True, "v1"),
    (ALL_MODES, False, "v2"),
]
MODE_IDS = ["default", "values", "updates", "tasks", "debug", "checkpoints", "all", "all-subgraphs", "all-v2"]


def review(f, calls: Calls, saver):
    """``draft`` task, interrupt in the entrypoint, ``ask`` task that interrupts, a second
    interrupt in the entrypoint, then ``publish``."""

    @f.task
    def draft(topic: str) -> str:
        calls("draft", topic)
        return f"draft on {topic}"

    @f.task
    def ask(question: str) -> str:
        calls("ask", question)
        answer = f.interrupt({"task asks": question})
        calls("ask answered", answer)
        return f"{question} -> {answer}"

    @f.task
    def publish(text: str) -> str:
        calls("publish", text)
        return text.upper()

    @f.entrypoint(checkpointer=saver)
    def main(topic: str) -> dict:
        calls("main", topic)
        text = draft(topic).result()
        verdict = f.interrupt({"review": text})
        calls("main got", verdict)
        answer = ask(f"why {verdict}?").result()
        final = f.interrupt("last word?")
        calls("main got", final)
        return {"text": text, "verdict": verdict, "answer": answer, "published": publish(final).result()}

    return main


@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_interrupts_and_resumes(mode, subgraphs, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = review(f, calls, saver)
        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version}
        rt.stream("first run: pauses in main", main, "cats", cfg("t1"), **kw)
        rt.state("get_state at pause 1", main, cfg("t1"))
        rt.stream("resume 1: pauses in ask", main, f.Command(resume="ok"), cfg("t1"), **kw)
        rt.state("get_state at pause 2", main, cfg("t1"))
        rt.stream("resume 2: pauses in main again", main, f.Command(resume="because"), cfg("t1"), **kw)
        rt.state("get_state at pause 3", main, cfg("t1"))
        rt.stream("resume 3: done", main, f.Command(resume="ship it"), cfg("t1"), **kw)
        rt.record("calls", calls.calls)
        rt.record("draft ran once", calls.count("draft"))
        rt.state("get_state at the end", main, cfg("t1"))
        rt.history("get_state_history", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare_func(scenario)


def test_interrupted_invoke_results():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = review(f, calls, saver)
        rt.invoke("invoke: pause 1", main, "dogs", cfg("t1"))
        rt.invoke("invoke v2: pause 2", main, f.Command(resume="fine"), cfg("t1"), version="v2")
        rt.invoke(
            "invoke values: pause 3", main, f.Command(resume="why not"), cfg("t1"), stream_mode="values"
        )
        rt.invoke("invoke v2: done", main, f.Command(resume="go"), cfg("t1"), version="v2")
        rt.invoke("a new turn", main, "birds", cfg("t1"), version="v2")
        rt.record("calls", calls.calls)
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_resume_of_a_finished_thread():
    """LangGraph: ``Command(resume=...)`` on a finished thread returns its values and runs nothing."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = review(f, calls, saver)
        rt.invoke("pause 1", main, "dogs", cfg("t1"))
        rt.invoke("pause 2", main, f.Command(resume="fine"), cfg("t1"))
        rt.invoke("pause 3", main, f.Command(resume="why not"), cfg("t1"))
        rt.invoke("done", main, f.Command(resume="go"), cfg("t1"))
        rt.stream(
            "resume a finished thread", main, f.Command(resume="again"), cfg("t1"), stream_mode=ALL_MODES
        )
        rt.state("get_state after", main, cfg("t1"))
        rt.record("calls", calls.calls)
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


@pytest.mark.xfail(
    CANDIDATE_PREFIX != ORACLE_PREFIX,  # the oracle against itself passes
    strict=True,
    reason="known difference: LangGraph keeps a resume value sent to a finished thread and answers the "
    "next turn's first interrupt() with it (and its task's); lgtrace asks again",
)
def test_a_resume_sent_to_a_finished_thread_answers_the_next_turn():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        saver = rt.saver()
        main = review(f, Calls(), saver)
        for label, value in (("pause 1", "dogs"), ("2", "fine"), ("3", "why not"), ("done", "go")):
            rt.invoke(label, main, value if label == "pause 1" else f.Command(resume=value), cfg("t1"))
        rt.invoke("resume a finished thread", main, f.Command(resume="again"), cfg("t1"))
        rt.stream("a new turn", main, "birds", cfg("t1"), stream_mode=ALL_MODES)

    compare_func(scenario)


def test_resume_by_interrupt_id_and_a_new_input_while_paused():
    """Resume with ``{interrupt_id: value}`` (ids from each runtime's own ``get_state``); a
    new input while paused starts the entrypoint over."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = review(f, calls, saver)
        rt.invoke("pause 1", main, "owls", cfg("t1"))
        snap = rt.state("get_state", main, cfg("t1"))
        iid = snap.interrupts[0].id if snap and snap.interrupts else "missing"
        rt.stream("resume by id", main, f.Command(resume={iid: "by id"}), cfg("t1"), stream_mode=ALL_MODES)
        rt.stream("a new input while paused", main, "bats", cfg("t1"), stream_mode=ALL_MODES)
        rt.state("get_state after the new input", main, cfg("t1"))
        rt.record("calls", calls.calls)
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_parallel_tasks_that_interrupt():
    """Two parallel tasks both interrupt (and a third finishes); the finished task does not run
    again. LangGraph: the pause shows only the interrupt of the first future the entrypoint
    waits on (``a``); resuming it runs ``a`` and ``b`` again, and the thread pauses on ``b``.

    The entrypoint waits at the gate too, once it called every task: a finished task's start
    event (emitted when it is called again on resume) then comes before the results of the
    tasks that run."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        gate = Gate(4)  # the three workers and the entrypoint

        @f.task
        def worker(name: str, asks: bool) -> str:
            calls("worker", name)
            gate.wait()
            if asks:
                return f"{name}: {f.interrupt(f'{name}?')}"
            return f"{name}: done"

        @f.entrypoint(checkpointer=saver)
        def main(names: list) -> list:
            futures = [worker(n, asks=n != "c") for n in names]
            gate.wait()
            futures[-1].result()  # the task that finishes first: one order of events on both runtimes
            return [fut.result() for fut in futures]

        rt.stream("pauses", main, ["a", "b", "c"], cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        snap = rt.state("get_state at the pause", main, cfg("t1"))
        answers = {i.id: f"answer to {i.value}" for i in (snap.interrupts if snap else ())}
        rt.record("interrupt values", sorted(i.value for i in (snap.interrupts if snap else ())))
        for turn, n in (("resume 1", 3), ("resume 2", 2)):  # the tasks that run again, and main
            gate = Gate(n)
            rt.stream(turn, main, f.Command(resume=answers), cfg("t1"), stream_mode=ALL_MODES, parallel=True)
            snap = rt.state(f"get_state after {turn}", main, cfg("t1"))
            answers = {i.id: f"answer to {i.value}" for i in (snap.interrupts if snap else ())}
        rt.record("calls", calls.sorted())
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_interrupt_without_a_checkpointer():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)

        @f.entrypoint()
        def main(x: int) -> int:
            return f.interrupt(x)

        rt.stream("stream", main, 1, None, stream_mode=ALL_MODES)
        rt.invoke("invoke", main, 1, None)

    compare_func(scenario)
