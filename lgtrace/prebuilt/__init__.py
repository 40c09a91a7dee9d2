"""Ready-made nodes and agents: ``ToolNode``, ``tools_condition``, ``create_react_agent``."""

from lgtrace.prebuilt.chat_agent import AgentState, create_react_agent
from lgtrace.prebuilt.tool_node import ToolNode, tools_condition

__all__ = ["AgentState", "ToolNode", "create_react_agent", "tools_condition"]
