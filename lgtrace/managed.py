"""Managed values: state keys the runtime computes for each task instead of storing.

``remaining_steps: RemainingSteps`` receives how many supersteps the run may
still take before ``GraphRecursionError``; ``is_last_step: IsLastStep`` is True
on the last one. They appear in a node's input only, never in ``values`` or
``updates``, and nodes cannot write them.
"""

from __future__ import annotations

from typing import Annotated


class ManagedValue:
    """A key whose value is computed from the run's position, not from writes."""

    @staticmethod
    def get(step: int, stop: int) -> object:
        raise NotImplementedError


class RemainingStepsManager(ManagedValue):
    @staticmethod
    def get(step: int, stop: int) -> int:
        return stop - step


class IsLastStepManager(ManagedValue):
    @staticmethod
    def get(step: int, stop: int) -> bool:
        return step == stop - 1


RemainingSteps = Annotated[int, RemainingStepsManager]
IsLastStep = Annotated[bool, IsLastStepManager]

__all__ = ["IsLastStep", "IsLastStepManager", "ManagedValue", "RemainingSteps", "RemainingStepsManager"]
