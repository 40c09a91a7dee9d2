"""lgtrace.checkpoint.{memory,sqlite,postgres} are LangGraph's savers, and say which extra is missing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import lgtrace


def test_reexports_are_langgraphs_classes() -> None:
    import langgraph.checkpoint.memory as lg_memory
    import langgraph.checkpoint.postgres as lg_pg
    import langgraph.checkpoint.postgres.aio as lg_pg_aio
    import langgraph.checkpoint.sqlite as lg_sqlite
    import langgraph.checkpoint.sqlite.aio as lg_sqlite_aio

    from lgtrace.checkpoint import memory, postgres, sqlite
    from lgtrace.checkpoint.postgres import aio as pg_aio
    from lgtrace.checkpoint.sqlite import aio as sqlite_aio

    assert memory.InMemorySaver is lg_memory.InMemorySaver
    assert memory.MemorySaver is lg_memory.MemorySaver is lg_memory.InMemorySaver
    assert sqlite.SqliteSaver is lg_sqlite.SqliteSaver
    assert sqlite_aio.AsyncSqliteSaver is lg_sqlite_aio.AsyncSqliteSaver
    assert postgres.PostgresSaver is lg_pg.PostgresSaver
    assert postgres.ShallowPostgresSaver is lg_pg.ShallowPostgresSaver
    assert pg_aio.AsyncPostgresSaver is lg_pg_aio.AsyncPostgresSaver


# each case in a fresh interpreter: re-importing LangGraph's saver modules in this one would
# leave second copies of their classes behind
MISSING_EXTRA = r"""
import importlib, sys
module, needs, extra = sys.argv[1:]
sys.modules[needs] = None  # the dependency cannot be imported
try:
    importlib.import_module(module)
except ImportError as err:
    assert f'pip install "lgtrace[{extra}]"' in str(err), str(err)
    assert isinstance(err.__cause__, ImportError), repr(err.__cause__)
else:
    raise AssertionError(f"{module} imported without {needs}")
"""


@pytest.mark.parametrize(
    ("module", "needs", "extra"),
    [
        ("lgtrace.checkpoint.sqlite", "langgraph.checkpoint.sqlite", "sqlite"),
        ("lgtrace.checkpoint.sqlite.aio", "aiosqlite", "sqlite"),
        ("lgtrace.checkpoint.postgres", "psycopg", "postgres"),
        ("lgtrace.checkpoint.postgres.aio", "psycopg_pool", "postgres"),
    ],
)
def test_missing_extra_names_it(module: str, needs: str, extra: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", MISSING_EXTRA, module, needs, extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


ALLOWED = ("langgraph.checkpoint", "langgraph.store", "langgraph.cache")


def test_lgtrace_imports_no_langgraph_runtime() -> None:
    """Inside lgtrace/, only LangGraph's saver/store/cache interfaces may be imported, never its runtime."""
    bad = []
    for path in sorted(Path(lgtrace.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if (name == "langgraph" or name.startswith("langgraph.")) and not name.startswith(ALLOWED):
                    bad.append(f"{path}:{node.lineno}: {name}")
    assert not bad, "\n".join(bad)
