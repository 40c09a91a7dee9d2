"""``RetryPolicy``: which node errors are retried, and how long to wait before the next attempt."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from lgtrace.types import RetryPolicy

_NOT_RETRIED = (
    ValueError,
    TypeError,
    ArithmeticError,
    ImportError,
    LookupError,
    NameError,
    SyntaxError,
    RuntimeError,
    ReferenceError,
    StopIteration,
    StopAsyncIteration,
    OSError,
)


def default_retry_on(exc: Exception) -> bool:
    """LangGraph's default: connection errors and HTTP 5xx (httpx, requests) are retried; programming
    errors and other OS errors are not; anything else is."""
    if isinstance(exc, ConnectionError):
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if type(exc).__name__ in ("HTTPStatusError", "HTTPError") and type(exc).__module__.split(".")[0] in (
        "httpx",
        "requests",
    ):
        return status is None or 500 <= status < 600
    return not isinstance(exc, _NOT_RETRIED)


def check_policies(policy: Any, node: str) -> tuple[RetryPolicy, ...]:
    """``retry_policy=`` of ``add_node``: one policy or a sequence (the first whose ``retry_on``
    matches an error applies); ``retry_on`` must be exception types or a callable."""
    if policy is None:
        return ()
    policies = (
        (policy,) if isinstance(policy, RetryPolicy) or not isinstance(policy, Sequence) else tuple(policy)
    )
    for p in policies:
        if not isinstance(p, tuple) or not hasattr(p, "max_attempts"):
            raise TypeError(f"Node {node!r}: retry_policy takes RetryPolicy objects, got {type(p).__name__}")
        retry_on = p.retry_on
        types = retry_on if isinstance(retry_on, (tuple, list)) else (retry_on,)
        is_types = all(isinstance(t, type) and issubclass(t, BaseException) for t in types)
        if (not callable(retry_on) or isinstance(retry_on, type)) and not is_types:
            raise TypeError(
                f"Node {node!r}: RetryPolicy(retry_on=...) must be exception types or a callable, "
                f"got {retry_on!r}"
            )
        if p.max_attempts < 1:
            raise ValueError(f"Node {node!r}: RetryPolicy(max_attempts=...) must be at least 1")
    return policies


def _matches(policy: RetryPolicy, exc: Exception) -> bool:
    retry_on: Any = policy.retry_on
    if isinstance(retry_on, type) and issubclass(retry_on, BaseException):
        return isinstance(exc, retry_on)
    if isinstance(retry_on, (tuple, list)):
        return isinstance(exc, tuple(retry_on))
    return bool((retry_on if callable(retry_on) else default_retry_on)(exc))


def next_wait(policies: Sequence[RetryPolicy], exc: Exception, attempt: int) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` after ``exc``, or None to give up."""
    for policy in policies:
        if _matches(policy, exc):
            if attempt >= policy.max_attempts:
                return None
            interval = min(
                policy.max_interval, policy.initial_interval * policy.backoff_factor ** (attempt - 1)
            )
            return interval + random.uniform(0, 1) if policy.jitter else interval
    return None


__all__ = ["check_policies", "default_retry_on", "next_wait"]
