"""LangGraph's async SQLite saver, mirroring ``langgraph.checkpoint.sqlite.aio`` (extra ``sqlite``)."""

from lgtrace.checkpoint._extras import missing_extra

try:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
except ImportError as err:
    raise missing_extra(__name__, "sqlite", err) from err

__all__ = ["AsyncSqliteSaver"]
