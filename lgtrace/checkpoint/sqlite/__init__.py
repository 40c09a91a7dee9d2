"""LangGraph's SQLite saver, mirroring ``langgraph.checkpoint.sqlite`` (extra ``sqlite``).

The async saver is in ``lgtrace.checkpoint.sqlite.aio``, as in LangGraph.
"""

from lgtrace.checkpoint._extras import missing_extra

try:
    from langgraph.checkpoint.sqlite import SqliteSaver
except ImportError as err:
    raise missing_extra(__name__, "sqlite", err) from err

__all__ = ["SqliteSaver"]
