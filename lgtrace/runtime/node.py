"""What the runtime needs to know about a node, decided once at ``add_node``."""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, get_args, get_origin, get_type_hints

from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.store.base import BaseStore

from lgtrace.types import Command, StreamWriter

_CONFIG_NAMES = ("config",)
_WRITER_NAMES = ("writer",)


@dataclass(slots=True)
class NodeSpec:
    """A node of a compiled graph: how to call it and what it may route to."""

    name: str
    action: Callable[..., Any] | Runnable
    is_runnable: bool
    is_async: bool
    is_subgraph: bool
    wants_config: bool
    wants_writer: bool
    metadata: dict[str, Any]
    input_schema: Any
    input_keys: tuple[str, ...]
    ends: tuple[str, ...] | None
    """Destinations declared by annotation or ``destinations=``; None when unknown."""
    subgraph: Any = None
    """The compiled graph the node runs: itself, or one its function names directly (as
    LangGraph finds it): its checkpoints live under the task's namespace."""
    wants_store: bool = False
    wants_runtime: bool = False
    defer: bool = False
    """Wait until nothing else is left to run (``add_node(..., defer=True)``)."""
    trace_policy: Any = None
    """A ``TracePolicy``: what the node's run records as its input and output."""
    cache_policy: Any = None
    """A ``CachePolicy``: the node's writes are cached by its input (with ``compile(cache=...)``)."""
    retry_policy: tuple[Any, ...] = ()
    """``RetryPolicy``s: the first whose ``retry_on`` matches an error decides whether to retry."""
    is_call: bool = False
    """A ``@task`` function (functional API): its input is ``(args, kwargs)``, its result ``__return__``."""
    wants_previous: bool = False
    """An entrypoint that asks for ``previous`` (its thread's last saved value)."""
    triggers: tuple[str, ...] = field(default=())
    managed: tuple[tuple[str, Any], ...] = field(default=())
    """Managed keys in its input and their managers (e.g. ``remaining_steps``)."""

    @classmethod
    def plain(cls, name: str, action: Callable[..., Any], **options: Any) -> NodeSpec:
        """A node the runtime itself makes (the input step, a ``@task`` call): a plain function
        that asks for nothing, reads no schema and declares no destinations."""
        return cls(
            name=name,
            action=action,
            is_runnable=False,
            is_async=options.pop("is_async", False),
            is_subgraph=False,
            wants_config=False,
            wants_writer=False,
            metadata={},
            input_schema=None,
            input_keys=(),
            ends=(),
            **options,
        )


def _unwrap_callable(fn: Any) -> Any:
    if inspect.isfunction(fn) or inspect.ismethod(fn):
        return fn
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects
    if call is not None and not inspect.isclass(fn) and (inspect.ismethod(call)):
        return call
    return fn


def is_async_callable(fn: Any) -> bool:
    target = _unwrap_callable(fn)
    while hasattr(target, "func"):  # functools.partial
        target = target.func
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def _hints(fn: Any) -> dict[str, Any]:
    try:
        return get_type_hints(_unwrap_callable(fn))
    except Exception:
        return {}


class Injected(NamedTuple):
    """What a node function asks for besides its state."""

    config: bool = False
    writer: bool = False
    store: bool = False
    runtime: bool = False


_BY_NAME = {"config": "config", "writer": "writer", "store": "store", "runtime": "runtime"}


def inject_flags(fn: Any) -> Injected:
    """Whether ``fn`` asks for ``config``, ``writer``, ``store`` and ``runtime``, by annotation or
    by name (an annotation that cannot be resolved, e.g. a string naming a class local to a
    function under ``from __future__ import annotations``, falls back to the name, as LangGraph)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return Injected()
    hints = _hints(fn)
    wants_config = wants_writer = wants_store = wants_runtime = False
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        hint = hints.get(p.name, p.annotation)
        if isinstance(hint, str):  # unresolved: by name
            kind = _BY_NAME.get(p.name)
            wants_config |= kind == "config"
            wants_writer |= kind == "writer"
            wants_store |= kind == "store"
            wants_runtime |= kind == "runtime"
            continue
        if _is_runtime_type(hint) or (p.name == "runtime" and hint in (p.empty, Any)):
            wants_runtime = True
        elif (
            hint is RunnableConfig
            or (hint is p.empty and p.name in _CONFIG_NAMES)
            or (p.name in _CONFIG_NAMES and hint in (Any, dict, RunnableConfig | None))
        ):
            wants_config = True
        elif hint == StreamWriter or (p.name in _WRITER_NAMES and hint in (p.empty, Any)):
            wants_writer = True
        elif _is_optional_of(hint, RunnableConfig):
            wants_config = True
        elif p.name == "store" or _is_store_type(hint):
            wants_store = True
    return Injected(wants_config, wants_writer, wants_store, wants_runtime)


def _is_runtime_type(hint: Any) -> bool:
    from lgtrace.runtime.context import Runtime

    origin = get_origin(hint) or hint
    return inspect.isclass(origin) and issubclass(origin, Runtime)


def _is_store_type(hint: Any) -> bool:
    candidates = get_args(hint) if get_origin(hint) is typing.Union else (hint,)
    return any(inspect.isclass(c) and issubclass(c, BaseStore) for c in candidates)


def _is_optional_of(hint: Any, target: Any) -> bool:
    return get_origin(hint) is typing.Union and target in get_args(hint)


def first_param_schema(fn: Any) -> Any:
    """The class annotating a node's state parameter, if it is a schema class."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if not params:
        return None
    hint = _hints(fn).get(params[0].name)
    return hint if isinstance(hint, type) and hasattr(hint, "__annotations__") else None


def declared_ends(fn: Any) -> tuple[str, ...] | None:
    """Destinations from a ``-> Command[Literal["a", "b"]]`` return annotation.

    ``()`` when the annotation names no Command; None for a bare ``Command``
    (it may go anywhere).
    """
    ret = _hints(fn).get("return")
    if ret is None:
        return None if _mentions_command(fn) else ()
    for candidate in (ret, *get_args(ret)):
        if get_origin(candidate) is Command:
            literal = get_args(candidate)[0] if get_args(candidate) else None
            if get_origin(literal) is typing.Literal:
                return tuple(get_args(literal))
            return None
        if candidate is Command:
            return None
    return None if _mentions_command(fn) else ()


_MAX_CODE_OBJECTS = 256
"""How many code objects ``_mentions_command`` reads before it gives up (and assumes yes)."""


def _mentions_command(fn: Any) -> bool:
    """Whether a node's code may build a ``Command`` (so it may route anywhere).

    Reads the node's code, the functions and lambdas nested in it, and the functions it
    refers to by name (globals, closure variables, attributes of modules it names), so a
    ``Command`` built in a helper is seen. Only an estimate: a ``Command`` may also come
    from code reached in ways this does not follow (methods of objects, callables passed
    in, ``getattr``), which is why an apparently unreachable node is only warned about.
    """
    target = _unwrap_callable(fn)
    while isinstance(target, functools.partial):
        target = _unwrap_callable(target.func)
    if getattr(target, "__code__", None) is None:
        return True  # no code to read (builtins, C callables): assume it may
    seen: set[int] = set()
    # (code, globals it runs with, closure values by name)
    stack: list[tuple[types.CodeType, dict[str, Any], dict[str, Any]]] = [_frame_of(target)]
    while stack:
        code, namespace, cells = stack.pop()
        if id(code) in seen:
            continue
        seen.add(id(code))
        if len(seen) > _MAX_CODE_OBJECTS:
            return True
        names = code.co_names
        if "Command" in names:
            return True
        referenced = [namespace[n] for n in names if n in namespace]
        referenced.extend(cells.values())
        modules_seen: set[int] = set()
        for obj in referenced:  # grows with the attributes of the modules it names
            if obj is Command:  # imported under another name
                return True
            if inspect.ismodule(obj) and id(obj) not in modules_seen:
                modules_seen.add(id(obj))
                referenced.extend(getattr(obj, n) for n in names if hasattr(obj, n))
            elif inspect.isfunction(obj) or inspect.ismethod(obj):
                stack.append(_frame_of(obj))
        stack.extend((c, namespace, {}) for c in code.co_consts if isinstance(c, types.CodeType))
    return False


def _frame_of(fn: Any) -> tuple[types.CodeType, dict[str, Any], dict[str, Any]]:
    """A function's code, the globals it runs with and its bound closure variables."""
    code = fn.__code__
    closure = getattr(fn, "__closure__", None) or ()
    cells: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, closure, strict=False):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # not bound yet
            continue
    return code, getattr(fn, "__globals__", {}), cells


def subgraph_of(spec: NodeSpec, graph_type: type) -> Any:
    """The compiled graph a node runs: the node itself, or a ``graph_type`` instance its
    function refers to by name (a global or a closure variable), as LangGraph looks for one."""
    if isinstance(spec.action, graph_type):
        return spec.action
    if spec.is_runnable:
        return None
    target = _unwrap_callable(spec.action)
    while isinstance(target, functools.partial):
        target = _unwrap_callable(target.func)
    if getattr(target, "__code__", None) is None:
        return None
    code, namespace, cells = _frame_of(target)
    for obj in (*(namespace.get(n) for n in code.co_names), *cells.values()):
        if isinstance(obj, graph_type):
            return obj
    return None
