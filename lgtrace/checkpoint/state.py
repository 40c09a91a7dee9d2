"""The state API of a graph with a checkpointer: ``get_state``, ``get_state_history``,
``update_state`` (and their async twins), as LangGraph 1.2 defines them.

A saved checkpoint is restored into a scratch ``GraphRun`` (no driver, no events), whose
``plan()`` tells which tasks the next step runs, with LangGraph's task ids; their saved
writes tell which of them finished, failed or wait.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from inspect import signature
from typing import TYPE_CHECKING, Any

from lgtrace.checkpoint.format import (
    ERROR,
    INTERRUPT,
    NULL_TASK_ID,
    Before,
    Book,
    interrupts_from_wire,
    make_checkpoint,
    new_checkpoint_id,
    own_namespace,
    restore,
    task_path_str,
    task_writes,
)
from lgtrace.checkpoint.saver import CONTROL_WRITES, apply_null_writes
from lgtrace.constants import PULL, START
from lgtrace.errors import InvalidUpdateError
from lgtrace.runtime.run import GraphRun, Task, acall_branch, update_of
from lgtrace.stream.channel import EventChannel
from lgtrace.types import PregelTask, StateSnapshot

if TYPE_CHECKING:
    from lgtrace.runtime.compiled import CompiledStateGraph

_NO_LIMIT = 1 << 30


def saver_of(graph: CompiledStateGraph, config: Any) -> Any:
    saver = graph.checkpointer
    if saver is None or saver is False or saver is True:
        raise ValueError(f"No checkpointer set: compile graph {graph.name!r} with checkpointer=...")
    return saver


def graph_for(graph: CompiledStateGraph, config: Any) -> CompiledStateGraph:
    """The (sub)graph whose checkpoints ``configurable.checkpoint_ns`` names
    (``"<node>:<task id>|<node>:<task id>"``): the state API of a parent reads its subgraphs'."""
    ns = ((config or {}).get("configurable") or {}).get("checkpoint_ns") or ""
    for part in ns.split("|") if ns else ():
        name = part.split(":", 1)[0]
        node = graph.nodes.get(name)
        if node is None or node.subgraph is None:
            raise ValueError(f"checkpoint_ns {ns!r} names no subgraph of graph {graph.name!r} (at {name!r})")
        graph = node.subgraph
    return graph


def thread_config(graph: CompiledStateGraph, config: Any) -> dict[str, Any]:
    """``{"configurable": {thread_id, checkpoint_ns[, checkpoint_id]}}`` from a user config
    (the namespace of a ``checkpointer=True`` subgraph it addresses without task ids)."""
    configurable = dict((config or {}).get("configurable") or {})
    if configurable.get("thread_id") is None:
        raise ValueError(
            "Checkpointer requires one or more of the following 'configurable' keys: thread_id, "
            f"checkpoint_ns, checkpoint_id (graph {graph.name!r})"
        )
    ns = configurable.get("checkpoint_ns", "")
    if ns and graph_for(graph, config).checkpointer is True:
        ns = own_namespace(ns)
    out = {"thread_id": str(configurable["thread_id"]), "checkpoint_ns": ns}
    if configurable.get("checkpoint_id"):
        out["checkpoint_id"] = configurable["checkpoint_id"]
    return {"configurable": out}


def _scratch_run(graph: CompiledStateGraph, saved: Any, saver: Any) -> tuple[GraphRun, Book, Any]:
    configurable = dict(saved.config["configurable"]) if saved is not None else {}
    run = GraphRun(
        graph,
        {"configurable": configurable, "recursion_limit": _NO_LIMIT},
        local_modes=frozenset(),
        channel=EventChannel(0),
        parent=None,
    )
    run.ns_str = configurable.get("checkpoint_ns", "")
    if saved is None:
        return run, Book(saver.get_next_version), None
    book = Book(saver.get_next_version, saved.checkpoint)
    start_input = restore(run, book, saved.checkpoint)
    run.step = run.step0 = int((saved.metadata or {}).get("step", -1))
    run.checkpoint_id = saved.checkpoint["id"]
    return run, book, start_input


def _next_tasks(run: GraphRun, start_input: Any) -> list[Task]:
    if start_input is not None:
        run.step += 1
        start = run.start_task(start_input)
        if start is not None:
            return [start]
    return run.plan()


def _with_map(config: dict[str, Any] | None, metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """A checkpoint's config, with ``checkpoint_map`` when it belongs to a subgraph."""
    parents = (metadata or {}).get("parents")
    if config is None or not parents:
        return config
    conf = config["configurable"]
    return {
        **config,
        "configurable": {**conf, "checkpoint_map": {**parents, conf["checkpoint_ns"]: conf["checkpoint_id"]}},
    }


def snapshot(
    graph: CompiledStateGraph,
    saver: Any,
    config: dict[str, Any],
    saved: Any,
    *,
    live: bool,
    subgraphs: bool = False,
) -> StateSnapshot:
    """A saved checkpoint as a ``StateSnapshot``. ``live`` (the thread's head, not an
    addressed checkpoint): finished tasks' writes count in ``values`` and they leave ``next``.
    ``subgraphs``: a subgraph task's ``state`` is its own snapshot, not just its config."""
    if saved is None:
        return StateSnapshot({}, (), config, None, None, None, (), ())
    run, _, start_input = _scratch_run(graph, saved, saver)
    # LangGraph lists a saved step's pull tasks in the order the graph declares its nodes
    order = {name: i for i, name in enumerate(graph.nodes)}
    tasks = sorted(_next_tasks(run, start_input), key=lambda t: (t.path[0] == PULL, order.get(t.name, -1)))
    # writes of no task (a Command that resumed the step) show in the values, not in what runs next
    apply_null_writes(run, None, [(c, v) for tid, c, v in saved.pending_writes or () if tid == NULL_TASK_ID])
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for task_id, ch, value in saved.pending_writes or ():
        by_task.setdefault(task_id, []).append((ch, value))
    thread_id = saved.config["configurable"]["thread_id"]
    entries = []
    finished: list[Task] = []
    for t in tasks:
        writes = by_task.get(t.id, [])
        done = any(c not in CONTROL_WRITES for c, _ in writes)
        error = next((v for c, v in writes if c == ERROR), None)
        state = None
        if t.node.subgraph is not None:
            ns = f"{run.ns_str}|{t.name}:{t.id}" if run.ns_str else f"{t.name}:{t.id}"
            state = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}
            if subgraphs:
                sub = t.node.subgraph
                state = snapshot(sub, saver, state, saver.get_tuple(state), live=True, subgraphs=True)  # type: ignore[arg-type]
        result = graph.saved_result(writes) if done else None
        # a record of the step lists every interrupt the task raised; the live head, those still waiting
        asked = (
            ()
            if live and done
            else tuple(i for c, v in writes if c == INTERRUPT for i in interrupts_from_wire(v))
        )
        entries.append(PregelTask(t.id, t.name, t.path, error, asked, state, result))
        if done:
            finished.append(t)
    if live and finished:
        from lgtrace.checkpoint.format import load_writes

        for t in finished:
            load_writes(t, by_task[t.id])
        run.apply(finished)
    values = run.values
    return StateSnapshot(
        values=graph.view(values),
        next=tuple(t.name for t in tasks if not (live and t in finished)),
        config=_with_map(saved.config, saved.metadata),
        metadata=saved.metadata,
        created_at=saved.checkpoint["ts"],
        parent_config=_with_map(saved.parent_config, saved.metadata),
        tasks=tuple(entries),
        interrupts=tuple(i for task in entries for i in task.interrupts),
    )


def get_state(graph: CompiledStateGraph, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
    saver = saver_of(graph, config)
    cfg = thread_config(graph, config)
    saved = saver.get_tuple(cfg)
    live = "checkpoint_id" not in cfg["configurable"]
    target = graph_for(graph, cfg)
    return snapshot(target, saver, _as_given(config), saved, live=live, subgraphs=subgraphs)


async def aget_state(graph: CompiledStateGraph, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
    saver = saver_of(graph, config)
    cfg = thread_config(graph, config)
    saved = await saver.aget_tuple(cfg)
    live = "checkpoint_id" not in cfg["configurable"]
    target = graph_for(graph, cfg)
    return snapshot(target, saver, _as_given(config), saved, live=live, subgraphs=subgraphs)


def _as_given(config: Any) -> dict[str, Any]:
    """The caller's config (what a thread without checkpoints reports as its config)."""
    configurable = dict(config.get("configurable") or {})
    configurable["thread_id"] = str(configurable["thread_id"])
    return {**config, "configurable": configurable}


def _list_config(graph: CompiledStateGraph, config: Any) -> dict[str, Any]:
    cfg = thread_config(graph, config)
    cfg["configurable"].pop("checkpoint_id", None)
    return cfg


def get_state_history(
    graph: CompiledStateGraph, config: Any, *, filter: Any = None, before: Any = None, limit: Any = None
) -> Iterator[StateSnapshot]:
    saver = saver_of(graph, config)
    cfg = _list_config(graph, config)
    target = graph_for(graph, cfg)
    for saved in list(saver.list(cfg, filter=filter, before=before, limit=limit)):
        yield snapshot(target, saver, saved.config, saved, live=False)


async def aget_state_history(
    graph: CompiledStateGraph, config: Any, *, filter: Any = None, before: Any = None, limit: Any = None
) -> AsyncIterator[StateSnapshot]:
    saver = saver_of(graph, config)
    cfg = _list_config(graph, config)
    saved_list = [s async for s in saver.alist(cfg, filter=filter, before=before, limit=limit)]
    target = graph_for(graph, cfg)
    for saved in saved_list:
        yield snapshot(target, saver, saved.config, saved, live=False)


# -- update_state -------------------------------------------------------------------------


def _infer_as_node(graph: CompiledStateGraph, book: Book) -> str | None:
    """The node that wrote last (LangGraph's rule): the one that has seen the newest version."""
    latest = sorted((v, n) for n, seen in book.seen.items() if n in graph.nodes for v in seen.values())
    if not latest:
        return START
    if len(latest) == 1 or latest[-1][0] != latest[-2][0]:
        return latest[-1][1]
    return None


def _update_task_id(checkpoint_id: str, i: int) -> str:
    """LangGraph's id for the ``i``-th update of a superstep that has no planned task to reuse."""
    return str(uuid.uuid5(uuid.UUID(checkpoint_id), INTERRUPT if i == 0 else f"{INTERRUPT}:{i}"))


class _Update:
    """One superstep of ``update_state``/``bulk_update_state``: each update is the writes of a
    task of node ``as_node`` (its reducers apply, its edges route), all saved as one checkpoint."""

    def __init__(
        self, graph: CompiledStateGraph, config: Any, saved: Any, updates: list[tuple[Any, ...]]
    ) -> None:
        self.graph = graph
        self.config = config
        self.saved = saved
        run, book, _ = _scratch_run(graph, saved, graph.checkpointer)
        self.run, self.book = run, book
        if not saved:
            run.step = -1
        planned: dict[str, list[str]] = {}
        if saved is not None:
            for t in run.plan():  # reuse the ids of the tasks the update stands for
                planned.setdefault(t.name, []).append(t.id)
            run.step = run.step0
        checkpoint_id = saved.checkpoint["id"] if saved else str(uuid.uuid4())
        task_config = {"configurable": dict(config.get("configurable") or {}), "metadata": {}}
        self.tasks: list[Task] = []
        for i, (values, as_node, task_id) in enumerate(updates):
            if as_node is None:
                if len(updates) > 1:
                    raise InvalidUpdateError("as_node is required when applying multiple updates")
                as_node = _infer_as_node(graph, book) if saved else START
                if as_node is None:
                    raise InvalidUpdateError("Ambiguous update, specify as_node")
            if as_node != START and as_node not in graph.nodes:
                raise InvalidUpdateError(
                    f"Node {as_node!r} does not exist in graph {graph.name!r} "
                    f"(nodes: {sorted(graph.nodes)}); "
                    "update_state(as_node=...) names the node the update is written as"
                )
            ids = planned.get(as_node)
            task_id = task_id or (ids.pop(0) if ids else _update_task_id(checkpoint_id, i))
            node = graph.start_node if as_node == START else graph.nodes[as_node]
            task = Task(
                task_id, as_node, node, (INTERRUPT, i), (INTERRUPT,), run.step + 1, values, task_config
            )
            if as_node == START:
                self._input(task, values)
            else:
                run.collect(task, values)
            self.tasks.append(task)

    def _input(self, task: Task, values: Any) -> None:
        graph = self.graph
        if isinstance(values, dict):
            for key in values:
                if key not in graph.input_keys:
                    raise InvalidUpdateError(
                        f"update_state as {START!r}: key {key!r} is not in the input schema of graph "
                        f"{graph.name!r} (keys: {sorted(graph.input_keys)})"
                    )
        task.writes = list(graph.coerce_input(values, strict=True).items())
        task.update = update_of(task.writes)
        task.collected = True

    def finish(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Apply the updates; returns the arguments of the saver's ``put``."""
        run, book, saved = self.run, self.book, self.saved
        before = Before(run)
        run.apply(self.tasks)
        self.writes = {t.id: task_writes(self.graph, t) for t in self.tasks}
        book.advance(self.graph, before, [(t.name, t.triggers, self.writes[t.id]) for t in self.tasks])
        run.step += 1
        checkpoint = make_checkpoint(run, book, new_checkpoint_id(run.step), None)
        parents = (saved.metadata or {}).get("parents", {}) if saved else {}
        metadata = {"source": "update", "step": run.step, "parents": parents}
        configurable = dict(self.config.get("configurable") or {})
        if saved is not None:
            configurable.update(saved.config["configurable"])
        configurable.setdefault("checkpoint_ns", "")
        put_config = {**self.config, "configurable": configurable}
        return put_config, checkpoint, metadata, book.new_versions()

    def kept_writes(self, latest: Any) -> list[tuple[Task, list[tuple[str, Any]]]]:
        """The updates' writes saved against the checkpoint they build on (so its history shows
        them as that step's task results): not when the thread moved past it."""
        saved = self.saved
        if saved is None:
            return []
        addressed = (self.config.get("configurable") or {}).get("checkpoint_id")
        if addressed and latest is not None and latest.checkpoint["id"] != saved.checkpoint["id"]:
            return []
        return [(t, self.writes[t.id]) for t in self.tasks if self.writes[t.id]]


def _as_updates(supersteps: Any) -> list[list[tuple[Any, ...]]]:
    if not supersteps:
        raise ValueError("No supersteps provided")
    steps = []
    for step in supersteps:
        if not step:
            raise ValueError("No updates provided")
        steps.append([(u[0], u[1] if len(u) > 1 else None, u[2] if len(u) > 2 else None) for u in step])
    return steps


def bulk_update_state(graph: CompiledStateGraph, config: Any, supersteps: Any) -> dict[str, Any]:
    """Each superstep's updates applied together as one checkpoint, one superstep after the other."""
    saver = saver_of(graph, config)
    current = config
    for updates in _as_updates(supersteps):
        cfg = thread_config(graph, current)
        saved = saver.get_tuple(cfg)
        update = _Update(graph, current, saved, updates)
        for task in update.tasks:
            update.run.route(task, sync=True)
        put_config, checkpoint, metadata, versions = update.finish()
        addressed = "checkpoint_id" in cfg["configurable"]
        latest = saver.get_tuple(_list_config(graph, current)) if addressed and saved else None
        for task, writes in update.kept_writes(latest):
            saver.put_writes(put_config, writes, task.id, **_path(saver.put_writes, task))
        saved_config = saver.put(put_config, checkpoint, metadata, versions)
        current = _with_map(saved_config, saved.metadata if saved else None)
    return current  # type: ignore[return-value]


async def abulk_update_state(graph: CompiledStateGraph, config: Any, supersteps: Any) -> dict[str, Any]:
    saver = saver_of(graph, config)
    current = config
    for updates in _as_updates(supersteps):
        cfg = thread_config(graph, current)
        saved = await saver.aget_tuple(cfg)
        update = _Update(graph, current, saved, updates)
        for task in update.tasks:
            for branch, value in update.run.route(task, sync=False):
                update.run.finish_branch(task, branch, await acall_branch(branch, value, task.config))
        put_config, checkpoint, metadata, versions = update.finish()
        addressed = "checkpoint_id" in cfg["configurable"]
        latest = await saver.aget_tuple(_list_config(graph, current)) if addressed and saved else None
        for task, writes in update.kept_writes(latest):
            await saver.aput_writes(put_config, writes, task.id, **_path(saver.aput_writes, task))
        saved_config = await saver.aput(put_config, checkpoint, metadata, versions)
        current = _with_map(saved_config, saved.metadata if saved else None)
    return current  # type: ignore[return-value]


def update_state(
    graph: CompiledStateGraph, config: Any, values: Any, as_node: Any = None, task_id: Any = None
) -> dict[str, Any]:
    return bulk_update_state(graph, config, [[(values, as_node, task_id)]])


async def aupdate_state(
    graph: CompiledStateGraph, config: Any, values: Any, as_node: Any = None, task_id: Any = None
) -> dict[str, Any]:
    return await abulk_update_state(graph, config, [[(values, as_node, task_id)]])


def _path(put_writes: Any, task: Task) -> dict[str, str]:
    return {"task_path": task_path_str(task.path)} if "task_path" in signature(put_writes).parameters else {}
