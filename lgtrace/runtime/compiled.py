"""``CompiledStateGraph``: a validated graph, frozen into lookup tables, that is a
langchain-core ``Runnable`` (invoke / ainvoke / stream / astream / batch)."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from langchain_core.runnables import Runnable, RunnableConfig

from lgtrace.constants import END, START
from lgtrace.graph.schema import (
    ROOT,
    channels_of,
    is_root_schema,
    is_schema_instance,
    managed_of,
    object_to_update,
    schema_kind,
)
from lgtrace.runtime.config_check import check_batch_config, check_config
from lgtrace.runtime.node import NodeSpec, subgraph_of
from lgtrace.stream.output import make_shaper, normalize_modes
from lgtrace.types import GraphOutput, StateSnapshot

if TYPE_CHECKING:
    from lgtrace.graph.state import Branch, StateGraph


class CompiledStateGraph(Runnable[Any, Any]):
    """A compiled ``StateGraph``. Default ``stream_mode`` is ``"updates"``."""

    stream_mode: str = "updates"
    functional: bool = False
    """An ``@entrypoint`` (functional API): one task, ``entry``, that takes the input as it is."""
    entry: str = ""
    call_defaults: tuple[tuple[Any, ...], Any] = ((), None)
    """An entrypoint's retry and cache policies: ``@task`` calls without their own use them."""

    def __init__(
        self,
        builder: StateGraph,
        *,
        name: str = "LangGraph",
        debug: bool = False,
        checkpointer: Any = None,
        store: Any = None,
        cache: Any = None,
    ) -> None:
        self.builder = builder
        self.name = name
        self.debug = debug
        self.checkpointer = checkpointer
        """A ``BaseCheckpointSaver``; ``None``: a subgraph uses its parent's; ``False``: never persist."""
        self.store = store
        self.cache = cache
        """A ``BaseCache`` for nodes with a ``CachePolicy``."""
        self.context_schema = builder.context_schema
        self.interrupt_before: Any = None
        self.interrupt_after: Any = None
        self.channels = dict(builder.channels)
        self.state_keys = frozenset(self.channels)
        self.state_keys_ordered = tuple(self.channels)
        self.state_kind = schema_kind(builder.state_schema)
        self.state_schema = builder.state_schema
        self.managed = tuple(managed_of(builder.state_schema).items())
        self.output_cls = builder.output_schema
        self.output_kind = schema_kind(builder.output_schema)
        self.input_keys_ordered = tuple(channels_of(builder.input_schema)) or self.state_keys_ordered
        self.input_keys = frozenset(self.input_keys_ordered)
        self.output_keys = tuple(channels_of(builder.output_schema)) or self.state_keys_ordered
        self.root = is_root_schema(builder.state_schema)
        """The state is one value (the ``__root__`` channel), not keys."""
        self.result_keys: Any = self.state_keys
        """The writes a task result shows (``tasks`` / ``debug``)."""

        self.edges_from: dict[str, tuple[str, ...]] = {}
        for start, end in sorted(builder.edges):
            if end != END:
                self.edges_from[start] = (*self.edges_from.get(start, ()), end)
        self.joins: dict[str, tuple[set[str], str]] = {}
        self.joins_from: dict[str, tuple[str, ...]] = {}
        self.joins_to: dict[str, tuple[str, ...]] = {}
        for starts, end in sorted(builder.waiting_edges):
            if end == END:
                continue
            channel = f"join:{'+'.join(starts)}:{end}"
            self.joins[channel] = (set(starts), end)
            self.joins_to[end] = (*self.joins_to.get(end, ()), channel)
            for s in starts:
                self.joins_from[s] = (*self.joins_from.get(s, ()), channel)
        self.deferred = frozenset(name for name, spec in builder.nodes.items() if spec.defer)
        """Nodes added with ``defer=True``: they run when nothing else is left to run."""
        self.endless_deferred = tuple(builder.endless_deferred()) if self.deferred else ()
        """Deferred nodes no route from which reaches END (a run reaching them cannot finish)."""
        self.deferred_joins = frozenset(ch for ch, (_, end) in self.joins.items() if end in self.deferred)
        """Joins into deferred nodes: once complete, they too wait until nothing else would run."""
        self.branches_from: dict[str, tuple[Branch, ...]] = {
            source: tuple(branches.values()) for source, branches in builder.branches.items()
        }

        self.nodes: dict[str, NodeSpec] = {}
        for name, spec in builder.nodes.items():
            schema = spec.input_schema if spec.input_schema is not None else builder.state_schema
            keys = (
                tuple(channels_of(spec.input_schema))
                if spec.input_schema is not None
                else self.state_keys_ordered
            )
            triggers = tuple(sorted((f"branch:to:{name}", *self.joins_to.get(name, ()))))
            managed = tuple(managed_of(schema).items())
            self.nodes[name] = replace(
                spec,
                input_keys=keys,
                triggers=triggers,
                managed=managed,
                subgraph=subgraph_of(spec, CompiledStateGraph),
            )
        self.start_node = NodeSpec.plain(START, lambda x: x)

    # -- state coercion ----------------------------------------------------------------

    def coerce_input(self, value: Any, *, strict: bool) -> dict[str, Any]:
        """Graph input -> update dict. Top-level input must only use known keys."""
        if self.root:
            return {ROOT: value}
        if is_schema_instance(value):
            # what LangGraph's START writes: the input schema's fields the object has
            # (so a parent's state object handed to this graph as a node brings its defaults)
            return object_to_update(value, self.input_keys_ordered)
        if not isinstance(value, dict):
            raise TypeError(
                f"Input to graph {self.name!r} must be a dict of state keys, got {type(value).__name__}"
            )
        if strict:
            for key in value:
                if key not in self.input_keys:
                    raise ValueError(
                        f"Input key {key!r} is not in the input schema of graph {self.name!r} "
                        f"(keys: {sorted(self.input_keys)})"
                    )
            return value
        return {k: v for k, v in value.items() if k in self.input_keys}

    def coerce_node_input(self, node: NodeSpec, state: Any) -> Any:
        """A node's input as an instance of its input schema (dataclass / Pydantic), as LangGraph
        maps it. Compiled subgraphs included: the instance's fields with defaults are part of
        the subgraph's input, so of its output, so of what the subgraph node writes."""
        if self.root:
            return state.get(ROOT)
        schema = node.input_schema if node.input_schema is not None else self.state_schema
        if not isinstance(state, dict):
            return state
        kind = self.state_kind if schema is self.state_schema else schema_kind(schema)
        return schema(**state) if kind != "dict" else state

    def view(self, values: dict[str, Any]) -> Any:
        """The state as ``values`` events and snapshots show it."""
        if self.root:
            return values.get(ROOT)
        return {k: values[k] for k in self.state_keys_ordered if k in values}

    def saved_result(self, writes: list[tuple[str, Any]]) -> Any:
        """A saved task's result as snapshots and checkpoint events show it (its output writes)."""
        from lgtrace.checkpoint.format import result_of

        if self.root:
            return next((v for c, v in writes if c == ROOT), None)
        return result_of(writes, self.output_keys)

    def coerce_branch_input(self, state: dict[str, Any]) -> Any:
        if self.root:
            return state.get(ROOT)
        return self.state_schema(**state) if self.state_kind != "dict" else state

    # -- Runnable API --------------------------------------------------------------------

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        name = name or self.name
        return f"{name}{suffix}" if suffix else name

    def _driver(
        self,
        driver_cls: Any,
        input: Any,
        config: Any,
        stream_mode: Any,
        subgraphs: bool,
        version: str,
        kwargs: dict[str, Any],
    ) -> Any:
        """Validate the stream arguments (clear errors before anything runs) and start a run."""
        modes, as_list = normalize_modes(stream_mode, self.stream_mode)
        shaper = make_shaper(as_list, subgraphs, version)
        options = self._options(kwargs)
        _reject_unsupported(kwargs)
        config = check_config(config)
        return driver_cls(self, input, config, modes, subgraphs, version, options).events(shaper)

    def _options(self, kwargs: dict[str, Any]) -> RunOptions:
        """The per-call options a run takes besides its config (popped from ``kwargs``)."""
        from lgtrace.checkpoint.saver import check_durability

        durability = kwargs.pop("durability", None)
        if durability is not None:
            check_durability(durability)
            if not self.checkpointer:
                warnings.warn("`durability` has no effect when no checkpointer is present.", stacklevel=4)
        before = kwargs.pop("interrupt_before", None)
        after = kwargs.pop("interrupt_after", None)
        return RunOptions(
            durability,
            self.interrupt_before
            if before is None
            else self.check_interrupt_nodes(before, "interrupt_before"),
            self.interrupt_after if after is None else self.check_interrupt_nodes(after, "interrupt_after"),
            kwargs.pop("context", None),
        )

    def check_interrupt_nodes(self, nodes: Any, label: str) -> Any:
        """``"*"`` or a tuple of node names (an unknown name is an error naming it)."""
        if nodes is None or nodes == "*":
            return nodes
        names = (nodes,) if isinstance(nodes, str) else tuple(nodes)
        for name in names:
            if name not in self.nodes:
                raise ValueError(
                    f"{label}: {name!r} is not a node of graph {self.name!r} (nodes: {sorted(self.nodes)})"
                )
        return names

    def stream(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: Any = None,
        subgraphs: bool = False,
        version: str = "v1",
        debug: bool | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Run the graph, yielding events as they happen (see ``lgtrace.stream.output``)."""
        from lgtrace.runtime.drive import SyncDriver

        return self._driver(SyncDriver, input, config, stream_mode, subgraphs, version, kwargs)

    def astream(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: Any = None,
        subgraphs: bool = False,
        version: str = "v1",
        debug: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """``stream`` on the running event loop: async nodes are tasks, sync nodes run in threads."""
        from lgtrace.runtime.drive import AsyncDriver

        return self._driver(AsyncDriver, input, config, stream_mode, subgraphs, version, kwargs)

    def invoke(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: Any = "values",
        version: str = "v1",
        **kwargs: Any,
    ) -> Any:
        """Run to completion; return the final state (or, for another mode, the list of chunks).

        With ``version="v2"`` the final state comes wrapped in a ``GraphOutput``.
        """
        from lgtrace.runtime.drive import SyncDriver

        if stream_mode != "values":
            return list(self.stream(input, config, stream_mode=stream_mode, version=version, **kwargs))
        options = self._options(kwargs)
        _reject_unsupported({k: v for k, v in kwargs.items() if k not in ("subgraphs", "debug")})
        make_shaper(False, False, version)  # validates the version
        driver = SyncDriver(self, input, check_config(config), (), False, version, options)
        for _ in driver.events(None):
            pass
        return self._final(driver.run, version)

    async def ainvoke(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        stream_mode: Any = "values",
        version: str = "v1",
        **kwargs: Any,
    ) -> Any:
        from lgtrace.runtime.drive import AsyncDriver

        if stream_mode != "values":
            return [
                c
                async for c in self.astream(input, config, stream_mode=stream_mode, version=version, **kwargs)
            ]
        options = self._options(kwargs)
        _reject_unsupported({k: v for k, v in kwargs.items() if k not in ("subgraphs", "debug")})
        make_shaper(False, False, version)
        driver = AsyncDriver(self, input, check_config(config), (), False, version, options)
        async for _ in driver.events(None):
            pass
        return self._final(driver.run, version)

    # batch: each config is checked before langchain-core's get_config_list copies it
    # (LangGraph fails there with AttributeError, or hangs in abatch on max_concurrency=0)

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        return super().batch(
            inputs, check_batch_config(config), return_exceptions=return_exceptions, **kwargs
        )

    async def abatch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        return await super().abatch(
            inputs, check_batch_config(config), return_exceptions=return_exceptions, **kwargs
        )

    def batch_as_completed(
        self,
        inputs: Sequence[Any],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> Iterator[tuple[int, Any]]:
        return super().batch_as_completed(
            inputs, check_batch_config(config), return_exceptions=return_exceptions, **kwargs
        )

    def abatch_as_completed(
        self,
        inputs: Sequence[Any],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> AsyncIterator[tuple[int, Any]]:
        return super().abatch_as_completed(
            inputs, check_batch_config(config), return_exceptions=return_exceptions, **kwargs
        )

    # -- state API (with a checkpointer) ------------------------------------------------------

    def get_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's state at its head, or at ``configurable.checkpoint_id``."""
        from lgtrace.checkpoint import state

        return state.get_state(self, config, subgraphs=subgraphs)

    async def aget_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        from lgtrace.checkpoint import state

        return await state.aget_state(self, config, subgraphs=subgraphs)

    def get_state_history(
        self,
        config: RunnableConfig,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """The thread's checkpoints, newest first."""
        from lgtrace.checkpoint import state

        return state.get_state_history(self, config, filter=filter, before=before, limit=limit)

    def aget_state_history(
        self,
        config: RunnableConfig,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        from lgtrace.checkpoint import state

        return state.aget_state_history(self, config, filter=filter, before=before, limit=limit)

    def update_state(
        self, config: RunnableConfig, values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> RunnableConfig:
        """Write ``values`` to the thread as if node ``as_node`` returned them (reducers
        apply, its edges route); returns the config of the new checkpoint."""
        from lgtrace.checkpoint import state

        return state.update_state(self, config, values, as_node, task_id)  # type: ignore[return-value]

    async def aupdate_state(
        self, config: RunnableConfig, values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> RunnableConfig:
        from lgtrace.checkpoint import state

        return await state.aupdate_state(self, config, values, as_node, task_id)  # type: ignore[return-value]

    def bulk_update_state(self, config: RunnableConfig, supersteps: Any) -> RunnableConfig:
        """``update_state`` for several supersteps at once: each a list of ``(values, as_node)``
        (or ``StateUpdate``) applied together as one checkpoint."""
        from lgtrace.checkpoint import state

        return state.bulk_update_state(self, config, supersteps)  # type: ignore[return-value]

    async def abulk_update_state(self, config: RunnableConfig, supersteps: Any) -> RunnableConfig:
        from lgtrace.checkpoint import state

        return await state.abulk_update_state(self, config, supersteps)  # type: ignore[return-value]

    def _final(self, run: Any, version: str) -> Any:
        """``invoke``'s result: the output state (v1: with pending interrupts under
        ``__interrupt__``), or a ``GraphOutput`` (v2)."""
        output = run.output()
        interrupts = run.interrupts
        if self.root:
            return _single_value_output(output, interrupts, version)
        if version != "v2":
            if interrupts:
                output["__interrupt__"] = list(interrupts)
            return output
        value = self.output_cls(**output) if self.output_kind != "dict" else output
        return GraphOutput(value=value, interrupts=interrupts)

    def typed_state(self, values: dict[str, Any]) -> Any:
        """The state as an instance of its schema class (what v2 ``values`` parts carry)."""
        return self.state_schema(**values) if self.state_kind != "dict" else values

    def get_graph(self, config: RunnableConfig | None = None, *, xray: int | bool = False) -> Any:
        """The graph as langchain-core's drawable ``Graph`` (``draw_mermaid()``, ``draw_ascii()``,
        ``draw_mermaid_png()``), as LangGraph draws it; ``xray`` expands subgraphs."""
        from lgtrace.graph.draw import draw

        return draw(self, xray=xray)

    async def aget_graph(self, config: RunnableConfig | None = None, *, xray: int | bool = False) -> Any:
        return self.get_graph(config, xray=xray)

    def __repr__(self) -> str:
        return f"CompiledStateGraph(name={self.name!r}, nodes={list(self.nodes)})"


_UNSUPPORTED = ("checkpoint_during",)


class RunOptions(NamedTuple):
    """Per-call options of a run: ``durability``, ``interrupt_before``, ``interrupt_after``."""

    durability: str | None = None
    interrupt_before: Any = None
    interrupt_after: Any = None
    context: Any = None


def _reject_unsupported(kwargs: dict[str, Any]) -> None:
    for key, value in kwargs.items():
        if key in ("print_mode", "output_keys") and not value:
            continue
        if key in _UNSUPPORTED and value is None:
            continue
        raise TypeError(f"stream() got an unsupported argument {key!r}")


def _single_value_output(output: Any, interrupts: tuple[Any, ...], version: str) -> Any:
    """``invoke``'s result for a state that is one value (a root channel, an entrypoint): the value;
    interrupted, a dict value with ``__interrupt__`` (another value shows as ``{}``, as LangGraph)."""
    if version == "v2":
        shown = {} if output is None or (interrupts and not isinstance(output, dict)) else output
        return GraphOutput(value=shown, interrupts=interrupts)
    if interrupts:
        base = output if isinstance(output, dict) else {}
        return {**base, "__interrupt__": list(interrupts)}
    return output
