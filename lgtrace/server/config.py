"""A LangGraph project's ``langgraph.json``: which graphs to serve (``graphs: {"agent":
"./agent.py:graph"}``) and ``env`` (a ``.env`` file or a mapping); ``dependencies`` and other keys
are for LangGraph's deploy tooling and are ignored with a warning."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_KNOWN = {"graphs", "env", "dependencies"}


class ConfigError(ValueError):
    """``langgraph.json`` names something that cannot be served (the message says what)."""


@dataclass
class Project:
    root: Path
    graphs: dict[str, Any]
    """Graph id -> compiled graph (an lgtrace ``CompiledStateGraph``)."""


def load_project(config_path: str | os.PathLike[str]) -> Project:
    path = Path(config_path).resolve()
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (pass --config path/to/langgraph.json)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    root = path.parent
    ignored = sorted(set(spec) - _KNOWN) + (["dependencies"] if spec.get("dependencies") else [])
    if ignored:
        warnings.warn(f"{path.name}: {ignored} ignored by lgtrace serve (deploy settings)", stacklevel=2)
    _load_env(root, spec.get("env"))
    graphs_spec = spec.get("graphs")
    if not isinstance(graphs_spec, dict) or not graphs_spec:
        raise ConfigError(f"{path.name}: 'graphs' must map graph ids to 'path.py:variable'")
    graphs = {graph_id: _load_graph(root, graph_id, ref) for graph_id, ref in graphs_spec.items()}
    return Project(root, graphs)


def _load_env(root: Path, env: Any) -> None:
    if env is None:
        return
    if isinstance(env, dict):
        for k, v in env.items():
            os.environ.setdefault(str(k), str(v))
        return
    env_file = (root / str(env)).resolve()
    if not env_file.is_file():
        raise ConfigError(f"env file {env_file} not found")
    for line in env_file.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def _load_graph(root: Path, graph_id: str, ref: Any) -> Any:
    from lgtrace.graph.state import StateGraph
    from lgtrace.runtime.compiled import CompiledStateGraph

    if isinstance(ref, dict):
        ref = ref.get("path")
    if not isinstance(ref, str) or ":" not in ref:
        raise ConfigError(f"graph {graph_id!r}: expected 'path/to/file.py:variable', got {ref!r}")
    file_part, _, attr = ref.rpartition(":")
    file = (root / file_part).resolve()
    if not file.is_file():
        raise ConfigError(f"graph {graph_id!r}: {file} not found")
    module_name = f"lgtrace_serve_{graph_id}_{abs(hash(str(file)))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"graph {graph_id!r}: cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))  # (its sibling modules import as in `langgraph dev`)
    spec.loader.exec_module(module)
    try:
        graph = getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"graph {graph_id!r}: {file.name} has no {attr!r}") from None
    if isinstance(graph, StateGraph):
        graph = graph.compile()
    if not isinstance(graph, CompiledStateGraph):
        raise ConfigError(
            f"graph {graph_id!r}: {ref} is a {type(graph).__name__}; lgtrace serves graphs built with "
            "lgtrace (lgtrace.graph.StateGraph, compiled or not, or an lgtrace.func.entrypoint)"
        )
    return graph
