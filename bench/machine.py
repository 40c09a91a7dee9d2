"""Facts about the machine and the packages a result was measured with."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = (
    "lgtrace",
    "langgraph",
    "langchain-core",
    "pydantic",
    "opentelemetry-sdk",
    "openinference-instrumentation-langchain",
    "opentelemetry-instrumentation-langchain",
    "opentelemetry-instrumentation-genai-langchain",
    "opentelemetry-util-genai",
    "psutil",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision(repo: Path) -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "lgtrace"], cwd=repo, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty(lgtrace)" if dirty else "")


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
        memory_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - psutil is a bench dependency
        physical, memory_gib = None, None
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": physical,
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "git": git_revision(Path(__file__).resolve().parent.parent),
        "load_average_start": load_average(),
        "packages": package_versions(),
    }
