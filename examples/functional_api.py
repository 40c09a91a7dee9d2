"""The functional API: an ``@entrypoint`` that calls ``@task``s, streams tokens from inside a
task, stops for a human's review and resumes without running the finished tasks again.

``write`` (a task) streams its tokens on ``messages``; two ``title`` tasks run in parallel
(futures); ``interrupt()`` in the entrypoint pauses the thread; ``Command(resume=...)``
answers it, the entrypoint runs again from its first line and gets the tasks' saved results
back (``calls`` shows each task ran once). ``previous`` is what the last run saved.

    python examples/functional_api.py
"""

from collections import Counter

from _demo import chat_model

from lgtrace.checkpoint.memory import InMemorySaver
from lgtrace.func import entrypoint, task
from lgtrace.types import Command, interrupt

model = chat_model()
calls: Counter[str] = Counter()


@task
def write(topic: str) -> str:
    calls["write"] += 1
    return model.invoke(f"Write a short poem about {topic}").content


@task
def title(poem: str, style: str) -> str:
    calls[f"title:{style}"] += 1
    return f"{style.title()}: {poem.split()[0]}"


@entrypoint(checkpointer=InMemorySaver())
def poem_workflow(topic: str, *, previous: dict | None = None) -> entrypoint.final[dict, dict]:
    poem = write(topic).result()
    options = [f.result() for f in [title(poem, "plain"), title(poem, "fancy")]]
    chosen = interrupt({"pick a title": options})
    result = {"title": chosen, "poem": poem, "runs before": 0 if previous is None else previous["runs"]}
    return entrypoint.final(value=result, save={"runs": result["runs before"] + 1})


config = {"configurable": {"thread_id": "poems"}}
print("== run 1")
for mode, chunk in poem_workflow.stream("cats", config, stream_mode=["messages", "updates"]):
    if mode == "messages":
        token, metadata = chunk
        if token.content:
            print(f"[{metadata['langgraph_node']}] {token.content!r}")
    else:
        print(chunk)
state = poem_workflow.get_state(config)
print(f"== waiting at {state.next} for: {state.interrupts[0].value}")

print("== run 2")
for update in poem_workflow.stream(Command(resume="Fancy: a cat poem"), config):
    print(update)
print(f"== calls: {dict(sorted(calls.items()))}")

print("== run 3 (same thread: previous is what run 2 saved)")
poem_workflow.invoke("dogs", config)
print(poem_workflow.invoke(Command(resume="Plain: dogs"), config))
