"""Names LangGraph 1.2 exports that lgtrace does not have yet: importing one is an error that
names it (``NotImplementedError``), never an ``AttributeError`` that hides why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def missing_names(module: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``names`` (name -> what it is), for ``module``."""

    def __getattr__(name: str) -> Any:
        if name in names:
            raise NotImplementedError(
                f"{module}.{name} ({names[name]}) is not supported by lgtrace yet (issue #12); "
                f"it exists in langgraph.{module.removeprefix('lgtrace.')}"
            )
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
