"""``ToolNode`` and ``tools_condition``: run the tool calls of the last AI message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, ToolCall, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import get_executor_for_config
from langchain_core.tools import BaseTool, ToolException
from langchain_core.tools import tool as create_tool
from pydantic import ValidationError

from lgtrace.constants import END
from lgtrace.errors import GraphBubbleUp
from lgtrace.prebuilt.injection import Injected, inject, injected_of
from lgtrace.types import Command

TOOL_CALL_WITH_CONTEXT = "tool_call_with_context"
"""Marks a ``Send`` payload carrying one tool call and the state it was made in."""


def _error_message(error: Exception) -> str:
    return f"Error: {error!r}\n Please fix your mistakes."


class ToolInvocationError(ToolException):
    """A tool was called with arguments its schema rejects (``message``: what the model is told)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolNode(Runnable[Any, Any]):
    """A node that runs every tool call of the last ``AIMessage``, in parallel.

    Tools are invoked with the node's config, so ``get_stream_writer()`` and
    tokens of models called inside a tool stream like anywhere else in a node.
    Input: a state dict (``messages_key``), a list of messages, or one tool
    call sent with ``Send`` (as ``create_react_agent`` does). Output: the
    ``ToolMessage`` results (or ``Command`` objects tools returned).
    """

    def __init__(
        self,
        tools: Sequence[BaseTool | Callable[..., Any]],
        *,
        name: str = "tools",
        tags: list[str] | None = None,
        handle_tool_errors: bool | str | Callable[[Exception], str] | None = None,
        messages_key: str = "messages",
    ) -> None:
        self.name = name
        self.tags = tags
        self.handle_tool_errors = handle_tool_errors
        self.messages_key = messages_key
        self.tools_by_name: dict[str, BaseTool] = {}
        self.injected: dict[str, Injected] = {}
        """Per tool: the arguments it gets from the graph (state, store, runtime), not the model."""
        for t in tools:
            built = t if isinstance(t, BaseTool) else create_tool(t)
            self.tools_by_name[built.name] = built
            if injected := injected_of(built):
                self.injected[built.name] = injected

    # -- input / output ----------------------------------------------------------------

    def _parse(self, input: Any) -> tuple[list[ToolCall], str]:
        """The tool calls to run and the output shape ("dict" or "list")."""
        if isinstance(input, dict) and input.get("__type") == TOOL_CALL_WITH_CONTEXT:
            return [input["tool_call"]], "dict"
        if isinstance(input, list):
            messages, shape = input, "list"
        elif isinstance(input, dict):
            messages, shape = input.get(self.messages_key, []), "dict"
        elif hasattr(input, self.messages_key):
            messages, shape = getattr(input, self.messages_key), "dict"
        else:
            raise ValueError(
                f"ToolNode {self.name!r}: no messages found in input of type {type(input).__name__}"
            )
        for message in reversed(messages):
            if isinstance(message, AIMessage):
                return list(message.tool_calls), shape
        raise ValueError(f"ToolNode {self.name!r}: no AIMessage found in input")

    def _output(self, results: list[Any], shape: str) -> Any:
        if any(isinstance(r, Command) for r in results):
            return [r if isinstance(r, Command) else {self.messages_key: [r]} for r in results]
        return results if shape == "list" else {self.messages_key: results}

    def _unknown_tool(self, call: ToolCall) -> ToolMessage | None:
        if call["name"] in self.tools_by_name:
            return None
        known = ", ".join(self.tools_by_name)
        return ToolMessage(
            content=f"Error: {call['name']} is not a valid tool, try one of [{known}].",
            name=call["name"],
            tool_call_id=call["id"],
            status="error",
        )

    def _handle_error(self, call: ToolCall, error: Exception) -> ToolMessage:
        handler = self.handle_tool_errors
        if handler is False or isinstance(error, GraphBubbleUp):
            raise error  # an interrupt (or a Command to the parent) is not a tool error
        if handler is None:  # LangGraph's default: the model is told of bad arguments; other errors raise
            if not isinstance(error, ToolInvocationError):
                raise error
            return ToolMessage(
                content=error.message, name=call["name"], tool_call_id=call["id"], status="error"
            )
        if isinstance(handler, str):
            content = handler
        elif callable(handler):
            content = handler(error)
        else:
            content = _error_message(error)
        return ToolMessage(content=content, name=call["name"], tool_call_id=call["id"], status="error")

    def _invalid_arguments(self, call: ToolCall, error: ValidationError) -> ToolInvocationError:
        """Arguments the tool's schema rejected, as the model is told of them (those it gave only)."""
        injected = self.injected.get(call["name"])
        hidden = set()
        if injected is not None:
            hidden = {*injected.state, *(n for n in (injected.store, injected.runtime) if n)}
        details = [e for e in error.errors() if not (e.get("loc") and e["loc"][0] in hidden)]
        shown = "\n".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'Unknown error')}" for e in details
        )
        return ToolInvocationError(
            f"Error invoking tool '{call['name']}' with kwargs {call['args']} with error:\n"
            f" {shown}\n"
            " Please fix the error and try again."
        )

    # -- running -----------------------------------------------------------------------

    def _prepared(self, call: ToolCall, config: RunnableConfig, state: Any) -> dict[str, Any]:
        """The tool call as the tool gets it: with the arguments the graph injects."""
        prepared: dict[str, Any] = {**call, "type": "tool_call"}
        injected = self.injected.get(call["name"])
        return inject(injected, prepared, state, config) if injected else prepared

    def _run_one(self, call: ToolCall, config: RunnableConfig, state: Any = None) -> Any:
        if (missing := self._unknown_tool(call)) is not None:
            return missing
        try:
            return self.tools_by_name[call["name"]].invoke(self._prepared(call, config, state), config)
        except ValidationError as error:
            return self._handle_error(call, self._invalid_arguments(call, error))
        except Exception as error:
            return self._handle_error(call, error)

    async def _arun_one(self, call: ToolCall, config: RunnableConfig, state: Any = None) -> Any:
        if (missing := self._unknown_tool(call)) is not None:
            return missing
        try:
            return await self.tools_by_name[call["name"]].ainvoke(self._prepared(call, config, state), config)
        except ValidationError as error:
            return self._handle_error(call, self._invalid_arguments(call, error))
        except Exception as error:
            return self._handle_error(call, error)

    @staticmethod
    def _state_of(input: Any) -> Any:
        """The graph state the calls were made in (a ``Send``'d call carries it)."""
        if isinstance(input, dict) and input.get("__type") == TOOL_CALL_WITH_CONTEXT:
            return input.get("state")
        return input

    def _func(self, input: Any, config: RunnableConfig) -> Any:
        calls, shape = self._parse(input)
        state = self._state_of(input)
        if len(calls) == 1:
            return self._output([self._run_one(calls[0], config, state)], shape)
        with get_executor_for_config(config) as executor:
            results = list(executor.map(self._run_one, calls, [config] * len(calls), [state] * len(calls)))
        return self._output(results, shape)

    async def _afunc(self, input: Any, config: RunnableConfig) -> Any:
        calls, shape = self._parse(input)
        state = self._state_of(input)
        results = await asyncio.gather(*(self._arun_one(call, config, state) for call in calls))
        return self._output(list(results), shape)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call_with_config(self._func, input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self._acall_with_config(self._afunc, input, config, **kwargs)


def tools_condition(
    state: list[AnyMessage] | dict[str, Any] | Any, messages_key: str = "messages"
) -> Literal["tools", "__end__"]:
    """Route to ``"tools"`` when the last message asks for tool calls, else to END."""
    if isinstance(state, list):
        messages = state
    elif isinstance(state, dict):
        messages = state.get(messages_key, [])
    else:
        messages = getattr(state, messages_key, [])
    if not messages:
        raise ValueError(f"tools_condition: no messages found in input state: {state!r}")
    last = messages[-1]
    return "tools" if getattr(last, "tool_calls", None) else END


__all__ = ["ToolNode", "tools_condition"]
