"""``create_react_agent``: a model that calls tools in a loop until it answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel, LanguageModelLike
from langchain_core.messages import AIMessage, AnyMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool

from lgtrace.constants import END, START
from lgtrace.graph.message import add_messages
from lgtrace.graph.state import StateGraph
from lgtrace.managed import RemainingSteps
from lgtrace.prebuilt.tool_node import TOOL_CALL_WITH_CONTEXT, ToolNode
from lgtrace.types import Send

Prompt = str | SystemMessage | Callable[[Any], Any] | Runnable


class AgentState(TypedDict):
    """The agent's state: the conversation, and the steps it may still take."""

    messages: Annotated[Sequence[AnyMessage], add_messages]
    remaining_steps: NotRequired[RemainingSteps]


def _bind_tools(model: LanguageModelLike, tools: Sequence[BaseTool]) -> LanguageModelLike:
    if not tools:
        return model
    if isinstance(model, RunnableBinding) and "tools" in model.kwargs:
        return model
    if isinstance(model, BaseChatModel):
        return model.bind_tools(tools)
    raise TypeError(
        f"create_react_agent: cannot bind tools to {type(model).__name__}; "
        "pass a chat model with bind_tools()"
    )


def _prompt_runnable(prompt: Prompt | None) -> Runnable:
    if prompt is None:
        return RunnableLambda(lambda state: state["messages"], name="Prompt")
    if isinstance(prompt, str):
        prompt = SystemMessage(content=prompt)
    if isinstance(prompt, SystemMessage):
        system = prompt
        return RunnableLambda(lambda state: [system, *state["messages"]], name="Prompt")
    if isinstance(prompt, Runnable):
        return prompt
    if callable(prompt):
        return RunnableLambda(prompt, name="Prompt")
    raise TypeError(f"create_react_agent: unsupported prompt of type {type(prompt).__name__}")


def create_react_agent(
    model: LanguageModelLike | str,
    tools: Sequence[BaseTool | Callable[..., Any]] | ToolNode,
    *,
    prompt: Prompt | None = None,
    state_schema: Any = None,
    name: str | None = None,
    version: Literal["v1", "v2"] = "v2",
    debug: bool = False,
    **unsupported: Any,
) -> Any:
    """A graph with an ``agent`` node (the model) and a ``tools`` node, looping until
    the model answers without tool calls. ``version="v2"`` sends each tool call to
    the tools node as its own task; ``"v1"`` runs them all in one task."""
    for key, value in unsupported.items():
        if value is not None:
            raise NotImplementedError(f"create_react_agent({key}=...) is not supported by lgtrace yet")
    if isinstance(model, str):
        try:
            from langchain.chat_models import init_chat_model  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ImportError(
                "create_react_agent(model='provider:name') needs the 'langchain' package; pass a chat model"
            ) from exc
        model = init_chat_model(model)
    tool_node = tools if isinstance(tools, ToolNode) else ToolNode(list(tools))
    bound = _bind_tools(model, list(tool_node.tools_by_name.values()))
    model_runnable = _prompt_runnable(prompt) | bound

    def _answer(state: Any, response: Any) -> Any:
        if name and isinstance(response, AIMessage):
            response.name = name
        remaining = state.get("remaining_steps")
        if remaining is not None and remaining < 2 and getattr(response, "tool_calls", None):
            # the tools and another model call would not fit in the recursion limit
            response = AIMessage(id=response.id, content="Sorry, need more steps to process this request.")
        return {"messages": [response]}

    def call_model(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return _answer(state, model_runnable.invoke(state, config))

    async def acall_model(state: Any, config: RunnableConfig) -> dict[str, Any]:
        return _answer(state, await model_runnable.ainvoke(state, config))

    def should_continue(state: Any) -> Any:
        last = state["messages"][-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return END
        if version == "v1":
            return "tools"
        return [
            Send("tools", {"__type": TOOL_CALL_WITH_CONTEXT, "tool_call": call, "state": state})
            for call in last.tool_calls
        ]

    graph = StateGraph(state_schema or AgentState)
    graph.add_node("agent", RunnableLambda(call_model, afunc=acall_model, name="agent"))
    graph.add_node("tools", tool_node)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", should_continue, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(debug=debug, name=name or "LangGraph")


__all__ = ["AgentState", "create_react_agent"]
