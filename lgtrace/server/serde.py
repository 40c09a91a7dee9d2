"""JSON as the Agent Server sends it: compact, UTF-8, LangChain messages as their ``model_dump()``,
interrupts as ``{value, id, response_schema}``, ``Send`` as ``{node, args}``, tuples and sets as
lists, errors as ``{error, message}`` (never a stack trace)."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from typing import Any

from pydantic import BaseModel

from lgtrace.types import Interrupt, Send


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump()
    if isinstance(obj, Interrupt):
        return {"value": obj.value, "id": obj.id, "response_schema": getattr(obj, "response_schema", None)}
    if isinstance(obj, Send):
        return {"node": obj.node, "args": obj.arg}
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, BaseException):
        return error_of(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    return repr(obj)


def dumps(obj: Any) -> str:
    """Compact JSON (no spaces), UTF-8 text."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default)


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values (for responses built from several parts)."""
    return json.loads(dumps(obj))


def error_of(exc: BaseException) -> dict[str, str]:
    """An error as clients see it: its type and message."""
    return {"error": type(exc).__name__, "message": str(exc)}
