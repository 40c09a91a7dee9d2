"""Node caching (``CachePolicy`` + ``compile(cache=...)``), as LangGraph: a task of a node with a
cache policy is looked up by its input before its step runs; a hit is not run, its saved writes
are applied with the step and its update streamed as cached; a task that finished is saved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xxhash import xxh3_128_hexdigest

from lgtrace.checkpoint.format import ERROR, INTERRUPT, load_writes, task_writes

if TYPE_CHECKING:
    from lgtrace.runtime.run import GraphRun, Task

CACHE_NS_WRITES = "__pregel_ns_writes"


def _identifier(action: Any) -> str | None:
    """``module.qualname`` of a node's function (LangGraph's cache namespace for it)."""
    func = getattr(action, "func", action)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    module = getattr(func, "__module__", None)
    return f"{module}.{name}" if name and module else None


def call_namespace(func: Any) -> tuple[str, str]:
    """Where a ``@task`` function's results are cached (LangGraph's namespace for it)."""
    return (CACHE_NS_WRITES, _identifier(func) or "__dynamic__")


def call_key(policy: Any, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, str]:
    raw = policy.key_func(*args, **kwargs)
    return (call_namespace(func), xxh3_128_hexdigest(raw.encode() if isinstance(raw, str) else raw))


def keys_of(run: GraphRun, tasks: list[Task]) -> dict[Any, Task]:
    """The cache keys of the tasks that have a cache policy (set on them too)."""
    if run.graph.cache is None:
        return {}
    keys: dict[Any, Task] = {}
    for t in tasks:
        policy = t.node.cache_policy
        if policy is None:
            continue
        raw = policy.key_func(t.input)
        ns = (CACHE_NS_WRITES, _identifier(t.node.action) or "__dynamic__", t.name)
        t.cache_key = (ns, xxh3_128_hexdigest(raw.encode() if isinstance(raw, str) else raw))
        keys[t.cache_key] = t
    return keys


def apply_hits(run: GraphRun, tasks: list[Task], keys: dict[Any, Task], hits: dict[Any, Any]) -> list[Task]:
    """Tasks found in the cache take their saved writes and stream their update marked cached
    (no task result, as LangGraph); returns the tasks still to run."""
    found = []
    for key, writes in hits.items():
        task = keys.get(key)
        if task is None:
            continue
        load_writes(task, writes)
        task.cache_key = None  # nothing to save again
        found.append(task)
        if "updates" in run.modes:
            run.emit("updates", {task.name: task.update, "__metadata__": {"cached": True}})
        tell_hit(run, task)
    return [t for t in tasks if all(t is not f for f in found)] if found else tasks


def tell_hit(run: GraphRun, task: Task) -> None:
    """Graph lifecycle handlers (the OTel handler: an event on the graph span) hear of a hit."""
    if run.lifecycle:
        from lgtrace.callbacks import GraphCacheHitEvent, notify

        notify(run.lifecycle, GraphCacheHitEvent(run.graph_run_id, task.name, task.id, task.step, run.ns))


def remember(run: GraphRun, task: Task) -> None:
    """A task that finished: its writes go to the cache (never an error or an interrupt)."""
    if task.cache_key is None or task.error is not None:
        return
    writes = task_writes(run.graph, task)
    if any(c in (INTERRUPT, ERROR) for c, _ in writes):
        return
    run.graph.cache.set({task.cache_key: (writes, task.node.cache_policy.ttl)})
