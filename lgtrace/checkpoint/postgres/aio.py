"""LangGraph's async PostgreSQL savers, as ``langgraph.checkpoint.postgres.aio`` (extra ``postgres``)."""

from lgtrace.checkpoint._extras import missing_extra

try:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver, AsyncShallowPostgresSaver, Conn
except ImportError as err:
    raise missing_extra(__name__, "postgres", err) from err

__all__ = ["AsyncPostgresSaver", "AsyncShallowPostgresSaver", "Conn"]
