"""LangGraph's PostgreSQL saver, mirroring ``langgraph.checkpoint.postgres`` (extra ``postgres``).

The async savers are in ``lgtrace.checkpoint.postgres.aio``, as in LangGraph.
"""

from lgtrace.checkpoint._extras import missing_extra

try:
    from langgraph.checkpoint.postgres import BasePostgresSaver, Conn, PostgresSaver, ShallowPostgresSaver
except ImportError as err:
    raise missing_extra(__name__, "postgres", err) from err

__all__ = ["BasePostgresSaver", "Conn", "PostgresSaver", "ShallowPostgresSaver"]
