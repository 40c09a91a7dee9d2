"""Side-by-side benchmarks: lgtrace vs LangGraph, one graph definition for both.

Run ``python -m bench`` (``--help`` for options); see ``bench/README.md``.
"""
