"""``entrypoint(checkpointer=...)`` across turns of one thread: ``previous``, ``entrypoint.final``,
``get_state`` / ``get_state_history`` / saved checkpoints; what ``invoke`` returns (v1, v2)."""

import pytest

from ..persistence.graphs import ALL_MODES, cfg
from .harness import Calls, Rt, compare_func, fapi


def counter(f, calls: Calls, saver, *, final: bool):
    """``main(x)`` adds ``x`` to the running total kept in ``previous``. With ``final``, the
    entrypoint returns ``x`` to the caller and saves the total for the next turn."""

    @f.task
    def add(a: int, b: int) -> int:
        calls("add", a, b)
        return a + b

    @f.entrypoint(checkpointer=saver)
    def main(x: int, *, previous=None):
        calls("main", x, previous)
        total = add(previous or 0, x).result()
        if final:
            return f.entrypoint.final(value={"returned": x}, save=total)
        return total

    return main


@pytest.mark.parametrize("final", [False, True], ids=["previous", "final"])
@pytest.mark.parametrize(
    ("mode", "version"),
    [(None, "v1"), ("values", "v1"), ("updates", "v1"), (ALL_MODES, "v1"), (ALL_MODES, "v2")],
    ids=["default", "values", "updates", "all", "all-v2"],
)
def test_turns_on_one_thread(final, mode, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = counter(f, calls, saver, final=final)
        for i, x in enumerate((1, 10, 100)):
            rt.stream(f"turn {i}", main, x, cfg("t1"), stream_mode=mode, version=version)
            rt.state(f"get_state after turn {i}", main, cfg("t1"))
        rt.stream("another thread", main, 5, cfg("t2"), stream_mode=mode, version=version)
        rt.record("calls", calls.calls)
        rt.history("get_state_history", main, cfg("t1"))
        rt.history("get_state_history limit 2", main, cfg("t1"), limit=2)
        rt.saved("saver.list t1", saver, "t1")
        rt.saved("saver.list t2", saver, "t2")
        rt.calls("saver calls", saver)

    compare_func(scenario)


def test_invoke_results():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = counter(f, calls, saver, final=False)
        fin = counter(f, calls, rt.saver(), final=True)
        rt.invoke("invoke", main, 1, cfg("t1"))
        rt.invoke("invoke v2", main, 2, cfg("t1"), version="v2")
        rt.invoke("invoke values", main, 3, cfg("t1"), stream_mode="values")
        rt.invoke("invoke updates", main, 4, cfg("t1"), stream_mode="updates")
        rt.invoke("final: invoke", fin, 1, cfg("t1"))
        rt.invoke("final: invoke v2", fin, 2, cfg("t1"), version="v2")
        rt.state("final: get_state", fin, cfg("t1"))
        rt.record("calls", calls.calls)
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_returns_of_every_shape():
    """What the entrypoint returns is the ``values`` of the thread, whatever its type."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        saver = rt.saver()

        @f.entrypoint(checkpointer=saver)
        def main(x):
            return x

        for i, value in enumerate([None, 0, "s", [1, 2], {"a": {"b": 1}}, (1, "t"), {"__end__": 1}]):
            rt.stream(f"returns {value!r}", main, value, cfg(f"t{i}"), stream_mode=ALL_MODES)
            rt.invoke(f"invoke {value!r}", main, value, cfg(f"t{i}"))
            rt.state(f"get_state {value!r}", main, cfg(f"t{i}"))
            rt.saved(f"saver.list {value!r}", saver, f"t{i}")

    compare_func(scenario)


def test_update_state_of_an_entrypoint():
    """``update_state`` on an entrypoint's thread (the value the next turn sees as ``previous``)."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = counter(f, calls, saver, final=False)
        rt.invoke("turn 1", main, 1, cfg("t1"))
        rt.update("update_state", main, cfg("t1"), 40)
        rt.state("get_state after update", main, cfg("t1"))
        rt.invoke("turn 2", main, 2, cfg("t1"))
        rt.record("calls", calls.calls)
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_replay_from_a_checkpoint():
    """Invoking with the ``checkpoint_id`` of an earlier turn's checkpoint forks from there."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = counter(f, calls, saver, final=False)
        rt.invoke("turn 1", main, 1, cfg("t1"))
        rt.invoke("turn 2", main, 2, cfg("t1"))
        hist = rt.history("history", main, cfg("t1"))
        after_turn_1 = next(s for s in hist if s.metadata["step"] == 0).config
        rt.stream("fork from turn 1", main, 7, after_turn_1, stream_mode=ALL_MODES)
        rt.stream("replay None from turn 1's input", main, None, hist[-1].config, stream_mode=ALL_MODES)
        rt.record("calls", calls.calls)
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)
