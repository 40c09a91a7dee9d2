"""Load an implementation's public API by import prefix (``"lgtrace"`` or ``"langgraph"``).

Every graph in ``bench.graphs`` is written once against the namespace returned
here, so the same definition runs on both implementations.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

IMPLEMENTATIONS: tuple[str, ...] = ("lgtrace", "langgraph")
"""The two implementations under comparison: subject first, baseline second."""

SUBJECT, BASELINE = IMPLEMENTATIONS


@dataclass(frozen=True)
class Impl:
    """The public names a graph definition needs, taken from one implementation."""

    prefix: str
    StateGraph: Any
    START: str
    END: str
    MessagesState: Any
    add_messages: Any
    Send: Any
    Command: Any
    get_stream_writer: Any


_cache: dict[str, Impl] = {}


def load(prefix: str) -> Impl:
    """Import ``{prefix}.graph``, ``{prefix}.types`` and ``{prefix}.config``."""
    if prefix not in _cache:
        graph = importlib.import_module(f"{prefix}.graph")
        types_ = importlib.import_module(f"{prefix}.types")
        config = importlib.import_module(f"{prefix}.config")
        _cache[prefix] = Impl(
            prefix=prefix,
            StateGraph=graph.StateGraph,
            START=graph.START,
            END=graph.END,
            MessagesState=graph.MessagesState,
            add_messages=graph.add_messages,
            Send=types_.Send,
            Command=types_.Command,
            get_stream_writer=config.get_stream_writer,
        )
    return _cache[prefix]
