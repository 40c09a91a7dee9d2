"""``lgtrace serve``: an Agent Server-compatible HTTP API for lgtrace graphs (LangGraph's SDK
clients stream from it unchanged), with a playground page. Needs the ``server`` extra."""

from lgtrace.server.app import create_app

__all__ = ["create_app"]
