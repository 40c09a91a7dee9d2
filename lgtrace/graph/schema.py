"""State schemas -> channels.

A state schema (TypedDict, dataclass or Pydantic model) is read once, at build
time, into a mapping ``key -> Channel``. A channel knows how to combine the
writes of one superstep: with its reducer (``Annotated[T, reducer]``) or, for a
plain key, by taking the single value written (two writes in one step are an
``InvalidUpdateError``).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from pydantic import BaseModel

from lgtrace.managed import ManagedValue

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda s: False})()
"""Sentinel for a key that holds no value yet."""

Reducer = Callable[[Any, Any], Any]

_ABSTRACT_TO_CONCRETE: dict[Any, type] = {
    collections.abc.Sequence: list,
    collections.abc.MutableSequence: list,
    collections.abc.Set: set,
    collections.abc.MutableSet: set,
    collections.abc.Mapping: dict,
    collections.abc.MutableMapping: dict,
}


@dataclass(frozen=True, slots=True)
class Channel:
    """One state key: how its writes combine and what it starts with."""

    key: str
    reducer: Reducer | None
    initial: Any = MISSING


def _reducer_of(hint: Any) -> Reducer | None:
    """The last two-argument callable in ``Annotated[...]`` metadata, if any."""
    if get_origin(hint) is not Annotated:
        return None
    for meta in reversed(hint.__metadata__):
        if callable(meta) and _takes_two_positional(meta):
            return meta
    return None


def _takes_two_positional(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume binary
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 and all(p.default is p.empty for p in positional[:2])


def _empty_value(hint: Any) -> Any:
    """The value a reducer key starts from: ``T()`` when T can be built without args."""
    base = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    origin = get_origin(base) or base
    origin = _ABSTRACT_TO_CONCRETE.get(origin, origin)
    if not isinstance(origin, type):
        return MISSING
    try:
        return origin()
    except Exception:
        return MISSING


def _type_hints(schema: type) -> dict[str, Any]:
    try:
        return get_type_hints(schema, include_extras=True)
    except Exception:  # unresolved forward references: fall back to raw annotations
        hints: dict[str, Any] = {}
        for base in reversed(schema.__mro__):
            hints.update(getattr(base, "__annotations__", {}))
        return hints


def _schema_hints(schema: Any) -> dict[str, Any]:
    """Key -> type hint of a schema class, without ClassVars and NotRequired/Required wrappers."""
    if schema is None or schema is dict or schema is Any:
        return {}
    if not isinstance(schema, type):
        raise TypeError(
            f"State schema must be a class (TypedDict, dataclass or Pydantic model), got {schema!r}"
        )
    hints = _type_hints(schema)
    if issubclass(schema, BaseModel):
        keys = list(schema.model_fields)
    elif dataclasses.is_dataclass(schema):
        keys = [f.name for f in dataclasses.fields(schema)]
    else:
        keys = [k for k in hints if not k.startswith("__")]
    out = {}
    for key in keys:
        hint = hints.get(key, Any)
        while get_origin(hint) in (typing.NotRequired, typing.Required):
            hint = get_args(hint)[0]
        if get_origin(hint) is not typing.ClassVar:
            out[key] = hint
    return out


def _manager_of(hint: Any) -> type[ManagedValue] | None:
    if get_origin(hint) is Annotated:
        for meta in hint.__metadata__:
            if isinstance(meta, type) and issubclass(meta, ManagedValue):
                return meta
    return None


ROOT = "__root__"
"""The one channel of a state that is a single value (``StateGraph(Annotated[str, operator.add])``)."""


def is_root_schema(schema: Any) -> bool:
    """A state that is one value, not keys (LangGraph's root channel): a type without annotations
    (``str``, ``list``, ``Annotated[list, operator.add]``...)."""
    if schema is None or schema is dict or schema is Any:
        return False
    return not hasattr(schema, "__annotations__")


def channels_of(schema: Any) -> dict[str, Channel]:
    """Read a schema class into its channels. ``dict`` or ``None`` means no typed keys; a type
    without annotations is one value, the ``__root__`` channel."""
    if is_root_schema(schema):
        reducer = _reducer_of(schema)
        return {ROOT: Channel(ROOT, reducer, _empty_value(schema) if reducer else MISSING)}
    out: dict[str, Channel] = {}
    for key, hint in _schema_hints(schema).items():
        if _manager_of(hint) is None:
            reducer = _reducer_of(hint)
            out[key] = Channel(key, reducer, _empty_value(hint) if reducer else MISSING)
    return out


def managed_of(schema: Any) -> dict[str, type[ManagedValue]]:
    """The schema's managed keys (``RemainingSteps``, ``IsLastStep``) and their managers."""
    if is_root_schema(schema):
        return {}
    return {k: m for k, h in _schema_hints(schema).items() if (m := _manager_of(h)) is not None}


def schema_kind(schema: Any) -> str:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return "pydantic"
    if isinstance(schema, type) and dataclasses.is_dataclass(schema):
        return "dataclass"
    return "dict"


def object_to_update(obj: Any, keys: collections.abc.Iterable[str]) -> dict[str, Any]:
    """A schema instance returned by a node (or given as input) as an update dict.

    LangGraph's rule: a dataclass writes every field it has (None included); a
    Pydantic model writes a field when its value is not None, when its default
    is not None, or when it was set explicitly.
    """
    if isinstance(obj, BaseModel):
        explicitly_set = obj.model_fields_set
        defaults = {k: f.default for k, f in type(obj).model_fields.items()}
        out: dict[str, Any] = {}
        for key in keys:
            value = getattr(obj, key, MISSING)
            if value is MISSING:
                continue
            if value is not None or defaults.get(key, MISSING) is not None or key in explicitly_set:
                out[key] = value
        return out
    return {key: value for key in keys if (value := getattr(obj, key, MISSING)) is not MISSING}


def is_schema_instance(obj: Any) -> bool:
    return isinstance(obj, BaseModel) or (dataclasses.is_dataclass(obj) and not isinstance(obj, type))
