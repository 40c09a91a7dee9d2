"""The run config, checked at a graph's entry (invoke / ainvoke / stream / astream / batch).

langchain-core's ``ensure_config`` (which the drivers call) copies ``tags``, ``metadata``,
``callbacks`` and ``configurable`` with ``.copy()`` and trusts every other key, so a
wrong type fails deep inside the run (``'str' object has no attribute 'copy'``) or, worse,
does something unintended: LangGraph splits ``tags="oops"`` into the tags
``['o', 'o', 'p', 's']``. ``check_config`` names the key at fault instead: a ``TypeError``
for a wrong type, a ``ValueError`` for a value out of range (as LangGraph raises for
``recursion_limit=0`` and, from its thread pool, for ``max_concurrency=0``).

Two spellings LangGraph accepts are normalised rather than rejected: a tuple of tags or of
callback handlers becomes a list, and a ``run_id`` given as a UUID string becomes a
``uuid.UUID`` (callback handlers key runs by UUID).
"""

from __future__ import annotations

import reprlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.runnables import RunnableConfig

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60


def _got(value: Any) -> str:
    return f"got {type(value).__name__} {_repr.repr(value)}"


def _positive_int(config: Mapping[str, Any], key: str, what: str) -> None:
    value = config.get(key)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"config[{key!r}] must be an int ({what}) or None, {_got(value)}")
    if value < 1:
        raise ValueError(f"config[{key!r}] must be at least 1 ({what}), got {value!r}")


def _dict_or_none(config: Mapping[str, Any], key: str, what: str) -> None:
    value = config.get(key)
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"config[{key!r}] must be a dict ({what}) or None, {_got(value)}")


def check_config(config: Any) -> RunnableConfig | None:
    """Raise ``TypeError`` / ``ValueError`` naming the config key at fault; else return the config.

    The config is returned as given unless a spelling had to be normalised (see the module
    docstring); then a shallow copy carries the normalised values.
    """
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict (a RunnableConfig) or None, {_got(config)}")
    if not config:
        return config  # type: ignore[return-value]
    fixed: dict[str, Any] = {}

    tags = config.get("tags")
    if tags is not None:
        if not isinstance(tags, (list, tuple)):
            hint = f"; for one tag write [{_repr.repr(tags)}]" if isinstance(tags, str) else ""
            raise TypeError(f"config['tags'] must be a list of strings, {_got(tags)}{hint}")
        for i, tag in enumerate(tags):
            if not isinstance(tag, str):
                raise TypeError(f"config['tags'][{i}] must be a str, {_got(tag)}")
        if not isinstance(tags, list):
            fixed["tags"] = list(tags)

    _dict_or_none(config, "metadata", "of run metadata")
    _dict_or_none(config, "configurable", "of configurable values")

    callbacks = config.get("callbacks")
    if callbacks is not None and not isinstance(callbacks, BaseCallbackManager):
        if not isinstance(callbacks, (list, tuple)):
            raise TypeError(
                "config['callbacks'] must be a list of callback handlers (BaseCallbackHandler), "
                f"a callback manager or None, {_got(callbacks)}"
            )
        for i, handler in enumerate(callbacks):
            if not isinstance(handler, BaseCallbackHandler):
                raise TypeError(
                    f"config['callbacks'][{i}] must be a callback handler (BaseCallbackHandler), "
                    f"{_got(handler)}"
                )
        if not isinstance(callbacks, list):
            fixed["callbacks"] = list(callbacks)

    _positive_int(config, "recursion_limit", "the most supersteps a run may take")
    _positive_int(config, "max_concurrency", "the most tasks running at once")

    run_name = config.get("run_name")
    if run_name is not None and not isinstance(run_name, str):
        raise TypeError(f"config['run_name'] must be a str or None, {_got(run_name)}")

    run_id = config.get("run_id")
    if run_id is not None and not isinstance(run_id, uuid.UUID):
        if not isinstance(run_id, str):
            raise TypeError(
                f"config['run_id'] must be a uuid.UUID (or a UUID string) or None, {_got(run_id)}"
            )
        try:
            fixed["run_id"] = uuid.UUID(run_id)
        except ValueError:
            raise ValueError(f"config['run_id'] must be a UUID, got {run_id!r}") from None

    return {**config, **fixed} if fixed else config  # type: ignore[return-value]


def check_batch_config(config: Any) -> Any:
    """``check_config`` for ``batch``: one config for every input, or a list of them."""
    if isinstance(config, Sequence) and not isinstance(config, str):
        return [check_config(c) for c in config]
    return check_config(config)


__all__ = ["check_batch_config", "check_config"]
