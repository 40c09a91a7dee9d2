"""Reserved names shared by the builder, the runtime and the stream projections."""

from __future__ import annotations

from typing import Final

START: Final = "__start__"
"""The virtual node a graph's input comes from."""

END: Final = "__end__"
"""The virtual node a branch or edge routes to when the run should stop there."""

TAG_NOSTREAM: Final = "nostream"
"""A model or node tagged with this emits no tokens in ``stream_mode="messages"``."""

PULL: Final = "__pregel_pull"
PUSH: Final = "__pregel_push"

NS_SEP: Final = "|"
NS_END: Final = ":"

STREAM_MODES: Final = ("values", "updates", "custom", "messages", "debug", "tasks", "checkpoints", "tools")
"""Every mode ``stream`` accepts, in LangGraph's order."""

TAG_HIDDEN: Final = "langsmith:hidden"
"""A run tagged with this is hidden from tracing back-ends (and from task events)."""
CONF: Final = "configurable"
TASKS: Final = "__pregel_tasks"
"""The channel of pending ``Send`` packets in a checkpoint."""
