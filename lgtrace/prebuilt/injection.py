"""What a ``ToolNode`` injects into tools, unseen by the model (as ``langgraph.prebuilt``):
``Annotated[..., InjectedState]`` (the graph state, or ``InjectedState("key")`` one key of it),
``Annotated[..., InjectedStore()]`` (the graph's store) and a ``runtime: ToolRuntime`` parameter
(state, context, config, stream writer, tool call id, store)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin, get_type_hints

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolArg
from langchain_core.tools.base import _DirectlyInjectedToolArg

ContextT = TypeVar("ContextT")
StateT = TypeVar("StateT")


class InjectedState(InjectedToolArg):
    """Inject the graph state (or ``field`` of it) into a tool argument."""

    def __init__(self, field: str | None = None) -> None:
        self.field = field


class InjectedStore(InjectedToolArg):
    """Inject the graph's ``BaseStore`` into a tool argument."""


@dataclass
class ToolRuntime(_DirectlyInjectedToolArg, Generic[ContextT, StateT]):
    """What a tool taking ``runtime: ToolRuntime`` gets."""

    state: StateT
    context: ContextT
    config: RunnableConfig
    stream_writer: Any
    tool_call_id: str | None
    store: Any

    def emit_output_delta(self, delta: Any) -> None:
        """Stream a partial output of the tool as a ``tool-output-delta`` event (``tools`` mode);
        nothing when the run does not stream ``tools``."""
        from lgtrace.stream.tools import tool_call_writer

        writer = tool_call_writer.get()
        if writer is not None:
            writer(delta)


@dataclass(frozen=True)
class Injected:
    """A tool's injected parameters: state (parameter -> key or None), store, runtime."""

    state: dict[str, str | None]
    store: str | None
    runtime: str | None

    def __bool__(self) -> bool:
        return bool(self.state) or self.store is not None or self.runtime is not None


def injected_of(tool: BaseTool) -> Injected:
    func = getattr(tool, "func", None) or getattr(tool, "coroutine", None)
    if func is None:
        return Injected({}, None, None)
    try:
        hints = get_type_hints(func, include_extras=True)
    except Exception:
        hints = {}
    state: dict[str, str | None] = {}
    store = runtime = None
    for name in inspect.signature(func).parameters:
        hint = hints.get(name)
        if hint is None:
            continue
        if get_origin(hint) is Annotated:
            for marker in get_args(hint)[1:]:
                if marker is InjectedState or isinstance(marker, InjectedState):
                    state[name] = (
                        getattr(marker, "field", None) if isinstance(marker, InjectedState) else None
                    )
                elif marker is InjectedStore or isinstance(marker, InjectedStore):
                    store = name
        origin = get_origin(hint) or hint
        if inspect.isclass(origin) and issubclass(origin, ToolRuntime):
            runtime = name
    return Injected(state, store, runtime)


def inject(injected: Injected, call: dict[str, Any], state: Any, config: RunnableConfig) -> dict[str, Any]:
    """The tool call with its injected arguments added."""
    from lgtrace.runtime.run import SCOPE_KEY

    scope = (config.get("configurable") or {}).get(SCOPE_KEY)
    store = scope.store if scope is not None else None
    args = dict(call["args"])
    for name, field in injected.state.items():
        if field is None:
            args[name] = state
        else:
            args[name] = state[field] if isinstance(state, dict) else getattr(state, field)
    if injected.store is not None:
        if store is None:
            raise ValueError(
                f"Tool {call['name']!r} needs a store (InjectedStore): compile the graph with store=..."
            )
        args[injected.store] = store
    if injected.runtime is not None:
        args[injected.runtime] = ToolRuntime(
            state=state,
            context=scope.context if scope is not None else None,
            config=config,
            stream_writer=scope.writer if scope is not None else None,
            tool_call_id=call.get("id"),
            store=store,
        )
    return {**call, "args": args}
