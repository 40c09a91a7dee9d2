"""Persistence: how a run becomes a LangGraph checkpoint and back, and how it reaches a saver.

lgtrace writes threads in LangGraph's checkpoint format (v4) through LangGraph's own
saver interface (``langgraph.checkpoint``, from the ``langgraph-checkpoint``
distribution), so every existing saver works and threads move between the two
runtimes. ``format.py`` translates; ``saver.py`` drives a saver for one run.
Savers are re-exported for convenience: ``lgtrace.checkpoint.memory``,
``lgtrace.checkpoint.sqlite``, ``lgtrace.checkpoint.postgres``.
"""
