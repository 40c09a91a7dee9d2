"""Smoke test of ``python -m bench.concurrency --quick`` (N=50 concurrent ``astream`` runs per process).

It checks the harness, not the figures: one fresh process per implementation and node kind,
every run checked correct, threads and RSS sampled, the table printed and the JSON written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("langgraph", reason="the benchmarks compare against langgraph")
pytest.importorskip("psutil", reason="bench.concurrency samples threads and RSS with psutil")


@pytest.mark.timeout(90)
def test_bench_concurrency_quick(tmp_path: Path) -> None:
    output = tmp_path / "concurrency.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.concurrency", "--quick", "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=85,
    )
    assert proc.returncode == 0, f"bench.concurrency failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert "ru_maxrss" in proc.stdout  # the table was printed

    data = json.loads(output.read_text())
    assert data["quick"] is True and data["settings"]["runs"] == 50
    assert data["machine"]["packages"].get("psutil")
    rows = {(r["impl"], r["nodes"]): r for r in data["results"]}
    assert set(rows) == {(impl, nodes) for impl in ("lgtrace", "langgraph") for nodes in ("sync", "async")}
    for key, r in rows.items():
        assert r["status"] == "ok", f"{key}: {r.get('reason') or r.get('first_errors')}"
        assert r["correct"] == r["runs"] == 50, key
        assert Path(r["impl_dir"]).name == key[0], r["impl_dir"]
        assert r["wall_s"] > 0 and r["cpu_s"] >= 0, key
        assert r["threads_before"] >= 1 and r["threads_peak_process"] >= r["threads_before"], key
        assert r["rss_before_mib"] > 0 and r["rss_peak_process_mib"] > 0 and r["ru_maxrss_mib"] > 0, key
