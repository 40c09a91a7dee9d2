"""Ready-made nodes and agents: ``ToolNode``, ``tools_condition``, ``create_react_agent``."""

from lgtrace._missing import missing_names
from lgtrace.prebuilt.chat_agent import AgentState, create_react_agent
from lgtrace.prebuilt.injection import InjectedState, InjectedStore, ToolRuntime
from lgtrace.prebuilt.tool_node import ToolNode, tools_condition

__all__ = [
    "AgentState",
    "InjectedState",
    "InjectedStore",
    "ToolNode",
    "ToolRuntime",
    "create_react_agent",
    "tools_condition",
]

__getattr__ = missing_names(
    "lgtrace.prebuilt",
    {
        "ValidationNode": "validating tool calls against schemas",
        "ToolCallTransformer": "transforming tool calls",
    },
)
