"""``add_messages`` / ``MessagesState``: merge by id, replace, remove, coerce."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage, SystemMessage

from lgtrace.graph import START, MessagesState, StateGraph, add_messages
from lgtrace.graph.message import REMOVE_ALL_MESSAGES


def _ids(messages):
    return [m.id for m in messages]


def _contents(messages):
    return [m.content for m in messages]


def test_appends_new_ids_and_replaces_same_id_in_place():
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    right = [AIMessage("b2", id="2"), HumanMessage("c", id="3")]
    merged = add_messages(left, right)
    assert _ids(merged) == ["1", "2", "3"]
    assert _contents(merged) == ["a", "b2", "c"]
    assert isinstance(merged[1], AIMessage)
    assert _contents(left) == ["a", "b"], "inputs must not be mutated"


def test_single_message_on_either_side():
    merged = add_messages(HumanMessage("a", id="1"), AIMessage("b", id="2"))
    assert _ids(merged) == ["1", "2"]


def test_remove_message_deletes_by_id():
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2"), HumanMessage("c", id="3")]
    merged = add_messages(left, [RemoveMessage(id="2")])
    assert _ids(merged) == ["1", "3"]


def test_remove_then_readd_same_id():
    left = [HumanMessage("a", id="1"), HumanMessage("b", id="2")]
    merged = add_messages(left, [RemoveMessage(id="1"), HumanMessage("c", id="1")])
    assert _contents(merged) == ["c", "b"]


def test_remove_all_messages():
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    merged = add_messages(left, [RemoveMessage(id=REMOVE_ALL_MESSAGES), SystemMessage("fresh", id="9")])
    assert _ids(merged) == ["9"]
    assert add_messages(left, RemoveMessage(id=REMOVE_ALL_MESSAGES)) == []


def test_deleting_unknown_id_raises():
    with pytest.raises(ValueError, match="nope"):
        add_messages([HumanMessage("a", id="1")], [RemoveMessage(id="nope")])


@pytest.mark.parametrize(
    "raw",
    [
        "hi",
        ("user", "hi"),
        {"role": "user", "content": "hi"},
        ["hi"],
        [("user", "hi")],
        [{"role": "user", "content": "hi"}],
    ],
    ids=["str", "tuple", "dict", "[str]", "[tuple]", "[dict]"],
)
def test_coerces_str_tuple_and_dict_into_messages_with_ids(raw):
    merged = add_messages([], raw)
    assert len(merged) == 1
    (msg,) = merged
    assert isinstance(msg, HumanMessage)
    assert msg.content == "hi"
    assert isinstance(msg.id, str) and msg.id


def test_coerced_messages_get_distinct_ids():
    merged = add_messages(["one"], ["two", ("ai", "three")])
    assert _contents(merged) == ["one", "two", "three"]
    assert isinstance(merged[2], AIMessage)
    assert len(set(_ids(merged))) == 3


def _chat_graph(node):
    g = StateGraph(MessagesState)
    g.add_node("bot", node)
    g.add_edge(START, "bot")
    return g.compile()


def test_messages_state_in_a_graph():
    def bot(state):
        last = state["messages"][-1]
        return {"messages": [AIMessage(f"echo {last.content}", id="reply")]}

    graph = _chat_graph(bot)
    out = graph.invoke({"messages": [("user", "hi")]})
    assert [type(m) for m in out["messages"]] == [HumanMessage, AIMessage]
    assert _contents(out["messages"]) == ["hi", "echo hi"]
    assert all(m.id for m in out["messages"])


def test_messages_state_accepts_single_tuple_and_str_input():
    graph = _chat_graph(lambda s: {"messages": "ok"})
    out = graph.invoke({"messages": ("user", "hi")})
    assert _contents(out["messages"]) == ["hi", "ok"]
    assert [type(m) for m in out["messages"]] == [HumanMessage, HumanMessage]
    out = graph.invoke({"messages": "plain"})
    assert _contents(out["messages"]) == ["plain", "ok"]


def test_node_replaces_and_removes_messages_in_a_graph():
    def edit(state):
        first, second = state["messages"]
        return {"messages": [HumanMessage("edited", id=first.id), RemoveMessage(id=second.id)]}

    graph = _chat_graph(edit)
    out = graph.invoke({"messages": [HumanMessage("orig", id="a"), AIMessage("gone", id="b")]})
    assert [(m.id, m.content) for m in out["messages"]] == [("a", "edited")]


def test_node_deleting_unknown_id_fails_the_run():
    graph = _chat_graph(lambda s: {"messages": [RemoveMessage(id="ghost")]})
    with pytest.raises(ValueError, match="ghost"):
        graph.invoke({"messages": ["hi"]})


def test_updates_stream_shows_the_node_return_value():
    reply = AIMessage("hello", id="r1")
    graph = _chat_graph(lambda s: {"messages": [reply]})
    assert list(graph.stream({"messages": ["hi"]}, stream_mode="updates")) == [{"bot": {"messages": [reply]}}]
