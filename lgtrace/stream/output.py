"""The one place that decides the shape of what ``stream`` yields (LangGraph's rules).

one mode             -> payload
a list of modes      -> (mode, payload)
subgraphs=True       -> (namespace, payload) or (namespace, mode, payload)
version="v2"         -> {"type": mode, "ns": namespace, "data": payload} (+ "interrupts" for values)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from lgtrace.constants import STREAM_MODES

Event = tuple[tuple[str, ...], str, Any]
Shaper = Callable[[tuple[str, ...], str, Any], Any]


def normalize_modes(stream_mode: Any, default: str) -> tuple[tuple[str, ...], bool]:
    """``(modes, as_list)``; raises ``ValueError`` naming an unknown mode."""
    if stream_mode is None:
        stream_mode = default
    if isinstance(stream_mode, str):
        modes: Sequence[Any] = (stream_mode,)
        as_list = False
    elif isinstance(stream_mode, (list, tuple)):
        modes = tuple(stream_mode)
        as_list = True
        if not modes:
            raise ValueError(f"stream_mode is an empty list; choose from {list(STREAM_MODES)}")
    else:
        raise TypeError(f"stream_mode must be a string or a list of strings, got {stream_mode!r}")
    for mode in modes:
        if mode not in STREAM_MODES:
            raise ValueError(f"Unknown stream_mode {mode!r}; valid modes are {list(STREAM_MODES)}")
    return tuple(dict.fromkeys(modes)), as_list


class InterruptedValues(NamedTuple):
    """A ``values`` event of a v2 stream at an interrupt: the state and the interrupts apart
    (v1 streams put them in the state dict under ``__interrupt__``)."""

    state: Any
    interrupts: tuple[Any, ...]


def make_shaper(as_list: bool, subgraphs: bool, version: str) -> Shaper:
    if version == "v2":

        def part(ns: tuple[str, ...], mode: str, payload: Any) -> dict[str, Any]:
            if mode == "values":  # state snapshots carry the step's interrupts (none without them)
                if type(payload) is InterruptedValues:
                    return {"type": mode, "ns": ns, "data": payload.state, "interrupts": payload.interrupts}
                return {"type": mode, "ns": ns, "data": payload, "interrupts": ()}
            return {"type": mode, "ns": ns, "data": payload}

        return part
    if version != "v1":
        raise ValueError(f"Unknown stream version {version!r}; valid versions are 'v1' and 'v2'")
    if subgraphs:
        if as_list:
            return lambda ns, mode, payload: (ns, mode, payload)
        return lambda ns, mode, payload: (ns, payload)
    if as_list:
        return lambda ns, mode, payload: (mode, payload)
    return lambda ns, mode, payload: payload
