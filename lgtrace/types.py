"""LangGraph-compatible public types: ``Send``, ``Command``, ``StreamWriter``, ``StreamMode``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

from lgtrace._missing import missing_names

N = TypeVar("N")
OutputT = TypeVar("OutputT")

StreamMode = Literal["values", "updates", "checkpoints", "tasks", "debug", "messages", "custom", "tools"]
"""How ``stream`` emits outputs (see ``lgtrace.constants.STREAM_MODES``)."""

StreamWriter = Callable[[Any], None]
"""The callable a node receives as ``writer``: ``writer(x)`` emits ``x`` in ``custom`` mode."""


class Send:
    """Run ``node`` in the next step with ``arg`` as its whole input (map-reduce).

    Returned from a conditional edge's path function, or as ``Command(goto=...)``.
    """

    __slots__ = ("arg", "node")

    def __init__(self, node: str, arg: Any) -> None:
        self.node = node
        self.arg = arg

    def __hash__(self) -> int:
        return hash((self.node, repr(self.arg)))

    def __repr__(self) -> str:
        return f"Send(node={self.node!r}, arg={self.arg!r})"

    def __eq__(self, value: object) -> bool:
        return isinstance(value, Send) and self.node == value.node and self.arg == value.arg


_DEFAULT_INTERRUPT_ID = "placeholder-id"


@dataclass(init=False, slots=True)
class Interrupt:
    """What ``interrupt(value)`` raised: the ``value`` shown to the human, and the ``id`` a
    ``Command(resume={id: answer})`` answers it by (derived from the task's namespace, as LangGraph does)."""

    value: Any
    id: str
    response_schema: Any = None

    def __init__(self, value: Any, id: str = _DEFAULT_INTERRUPT_ID, *, response_schema: Any = None) -> None:
        self.value = value
        self.id = id
        self.response_schema = response_schema


def interrupt(value: Any, *, response_schema: Any = None) -> Any:
    """Pause the graph at this point of the node and show ``value`` to the human.

    The first time, the node stops here (``GraphInterrupt``), the interrupt is saved with the
    thread and the run ends normally. When the thread is resumed with
    ``Command(resume=answer)``, the node runs again from its first line and this call returns
    ``answer``; a node may call ``interrupt()`` several times (each resume answers the next).
    Needs a checkpointer to be resumed."""
    from lgtrace.runtime.interrupts import interrupt as _interrupt

    return _interrupt(value, response_schema)


def _default_retry_on(exc: Exception) -> bool:
    from lgtrace.runtime.retry import default_retry_on

    return default_retry_on(exc)


class RetryPolicy(NamedTuple):
    """How a node's failing attempts are retried (``add_node(..., retry_policy=...)``)."""

    initial_interval: float = 0.5
    """Seconds before the first retry."""
    backoff_factor: float = 2.0
    """Multiplier of the interval after each retry."""
    max_interval: float = 128.0
    """Longest wait between attempts, in seconds."""
    max_attempts: int = 3
    """Attempts in all, the first included."""
    jitter: bool = True
    """Add up to a second, at random, to each wait."""
    retry_on: Any = _default_retry_on
    """Exception types to retry, or a callable telling whether to retry an exception (LangGraph's
    default: connection errors and HTTP 5xx yes, programming errors and other OS errors no)."""


def default_cache_key(*args: Any, **kwargs: Any) -> bytes:
    """A node input as a cache key (as LangGraph: pickled, mappings with sorted keys)."""
    import pickle

    return pickle.dumps((_freeze(args), _freeze(kwargs)), protocol=5, fix_imports=False)


def _freeze(obj: Any, depth: int = 10) -> Any:
    from collections.abc import Hashable, Mapping

    if isinstance(obj, Hashable) or depth <= 0:
        return obj
    if isinstance(obj, Mapping):
        return tuple(sorted((k, _freeze(v, depth - 1)) for k, v in obj.items()))
    if isinstance(obj, Sequence):
        return tuple(_freeze(x, depth - 1) for x in obj)
    if hasattr(obj, "tobytes"):
        return (type(obj).__name__, obj.tobytes(), getattr(obj, "shape", None))
    return obj


@dataclass(frozen=True)
class CachePolicy:
    """Cache a node's writes by its input (``add_node(..., cache_policy=...)`` with
    ``compile(cache=...)``): a hit skips the node."""

    key_func: Callable[..., Any] = default_cache_key
    """The node input -> a key (str or bytes; hashed)."""
    ttl: int | None = None
    """Seconds an entry lives (None: forever)."""


OVERWRITE = "__overwrite__"


@dataclass(frozen=True, slots=True)
class Overwrite:
    """Write ``value`` to a reduced key as is, bypassing its reducer (at most one per key per step)."""

    value: Any


@dataclass(frozen=True, kw_only=True)
class TracePolicy:
    """What a node's run records (``add_node(..., trace_policy=...)``): ``process_inputs`` /
    ``process_outputs`` transform the node's input / output as callback handlers (tracers, the
    OTel handler) see them, never what the node gets or returns; a processor that raises records
    the value as is. Only the node's own run: runs under it are not affected."""

    process_inputs: Callable[[Any], Any] | None = None
    process_outputs: Callable[[Any], Any] | None = None


def omit_payload(_value: Any) -> dict[str, Any]:
    """A ``TracePolicy`` processor recording an empty payload (the run and its timing are kept)."""
    return {}


class PregelTask(NamedTuple):
    """A task of a saved step, as ``StateSnapshot.tasks`` lists it."""

    id: str
    name: str
    path: tuple[Any, ...]
    error: Exception | None = None
    interrupts: tuple[Any, ...] = ()
    state: Any = None
    """For a subgraph node: the config of its own checkpoints (or its ``StateSnapshot``)."""
    result: Any | None = None


class StateSnapshot(NamedTuple):
    """A thread's state at one checkpoint (``get_state`` / ``get_state_history``)."""

    values: dict[str, Any] | Any
    next: tuple[str, ...]
    """Nodes the next step runs (empty when the thread is done)."""
    config: dict[str, Any]
    """The config that addresses this checkpoint (``thread_id``, ``checkpoint_ns``, ``checkpoint_id``)."""
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Command(Generic[N]):
    """A node's return value that updates the state and chooses where to go next.

    ``update`` is applied like a returned dict; ``goto`` names nodes (or ``Send``
    packets) to run in the next step; ``graph=Command.PARENT`` sends both to the
    graph that contains this subgraph.
    """

    graph: str | None = None
    update: Any | None = None
    resume: dict[str, Any] | Any | None = None
    goto: Send | Sequence[Send | N] | N = ()

    PARENT: ClassVar[Literal["__parent__"]] = "__parent__"

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={v!r}"
            for k, v in (
                ("graph", self.graph),
                ("update", self.update),
                ("resume", self.resume),
                ("goto", self.goto),
            )
            if v
        )
        return f"Command({fields})"


@dataclass(frozen=True)
class GraphOutput(Generic[OutputT]):
    """What ``invoke``/``ainvoke`` return with ``version="v2"``: the final output and any interrupts."""

    value: OutputT
    interrupts: tuple[Any, ...] = ()

    def __getitem__(self, key: str) -> Any:
        """Deprecated (as in LangGraph 1.1): ``result[key]``; use ``.value`` / ``.interrupts``."""
        _deprecated_access("`result[key]`")
        if key == "__interrupt__":
            return self.interrupts
        if isinstance(self.value, dict):
            return self.value[key]
        try:
            return getattr(self.value, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        _deprecated_access("`key in result`")
        if key == "__interrupt__":
            return bool(self.interrupts)
        if isinstance(self.value, dict):
            return key in self.value
        return isinstance(key, str) and hasattr(self.value, key)


def _deprecated_access(how: str) -> None:
    import warnings

    from lgtrace.warnings import LangGraphDeprecatedSinceV11

    warnings.warn(
        f"Accessing GraphOutput via {how} is deprecated. Use `result.value` to access the output value "
        "directly, or `result.interrupts` for interrupts.",
        LangGraphDeprecatedSinceV11,
        stacklevel=3,
    )


__all__ = [
    "CachePolicy",
    "Command",
    "GraphOutput",
    "Interrupt",
    "Overwrite",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
    "StateUpdate",
    "StreamMode",
    "StreamWriter",
    "TracePolicy",
    "interrupt",
    "omit_payload",
]


All = Literal["*"]
"""``interrupt_before="*"`` / ``interrupt_after="*"``: every node."""
Durability = Literal["sync", "async", "exit"]
"""When a run's checkpoints are saved (see ``stream(..., durability=...)``)."""


class StateUpdate(NamedTuple):
    """One update of ``bulk_update_state``: ``values`` written as node ``as_node``."""

    values: dict[str, Any] | None
    as_node: str | None = None
    task_id: str | None = None


_STREAM_PARTS = (
    "StreamPart",
    "ValuesStreamPart",
    "UpdatesStreamPart",
    "MessagesStreamPart",
    "CustomStreamPart",
    "CheckpointStreamPart",
    "TasksStreamPart",
    "DebugStreamPart",
    "TaskPayload",
    "TaskResultPayload",
    "CheckpointTask",
    "CheckpointPayload",
    "DebugPayload",
)
_missing = missing_names(
    "lgtrace.types",
    {
        "TimeoutPolicy": "node timeouts",
        "PregelExecutableTask": "LangGraph's internal task type",
        "ensure_valid_checkpointer": "LangGraph's internal checker",
        **{n: "a typing-only payload type" for n in _STREAM_PARTS},
    },
)


def __getattr__(name: str) -> Any:
    if name == "Checkpointer":  # a typing alias: None | bool | BaseCheckpointSaver
        from langgraph.checkpoint.base import BaseCheckpointSaver

        return None | bool | BaseCheckpointSaver
    return _missing(name)
