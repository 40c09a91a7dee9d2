"""The ``lgtrace`` command: ``lgtrace serve [options]`` (see ``lgtrace serve --help``)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "serve":
        print(
            "usage: lgtrace serve [--config langgraph.json] [--host H] [--port P] [--db FILE]",
            file=sys.stderr,
        )
        raise SystemExit(2)
    from lgtrace.server.cli import main as serve

    serve(args[1:])
