"""Smoke test of the benchmark harness: ``python -m bench --quick`` runs every case.

It checks the harness, not the speed: every implemented case is present in the
JSON with positive medians (lgtrace and LangGraph agreed on the result, or the
case would be a mismatch), and every slot is recorded as skipped with a reason.
The tracing cases (one graph under several tracers) must have timed every
variant whose instrumentation is installed, each traced one with exported spans,
and derived the added times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("langgraph", reason="the benchmarks compare against langgraph")


def _catalogue() -> list[tuple[str, bool]]:
    """``(name, is_slot)`` for every case, from ``python -m bench --list``."""
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = [line.split(None, 2) for line in out.splitlines() if line.strip()]
    return [(row[0], len(row) > 2 and row[2].startswith("SLOT")) for row in rows]


def _positive(variant: dict[str, Any]) -> bool:
    median = variant.get("median_s")
    return isinstance(median, float) and median > 0 and all(x > 0 for x in variant["samples_s"])


@pytest.mark.timeout(90)
def test_bench_quick_runs_every_case(tmp_path: Path) -> None:
    output = tmp_path / "quick.json"
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=85,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert elapsed < 60, f"--quick took {elapsed:.0f} s"

    data = json.loads(output.read_text())
    assert data["quick"] is True
    machine = data["machine"]
    for key in ("cpu_model", "cores_logical", "python", "date", "packages"):
        assert machine.get(key), key
    assert machine["packages"].get("langgraph") and machine["packages"].get("lgtrace")

    records = {r["name"]: r for r in data["cases"]}
    catalogue = _catalogue()
    assert catalogue, "no case listed"
    assert set(records) == {name for name, _ in catalogue}

    for name, is_slot in catalogue:
        rec = records[name]
        if is_slot:
            assert rec["status"] == "skipped" and rec["reason"], name
            continue
        if rec["group"] == "tracing":
            _check_tracing(rec)
            continue
        assert rec["status"] in ("ok", "partial"), f"{name}: {rec['status']}: {rec['reason']}"
        assert rec["repeats"] > 0, name
        variants = rec["variants"]
        assert _positive(variants["langgraph"]), name
        if rec["anchor_label"]:
            assert _positive(variants[rec["anchor_label"]]), name
        if rec["status"] == "ok":
            assert _positive(variants["lgtrace"]), name
            assert rec["ratio"] > 0, name
            assert variants["lgtrace"]["peak_kib"] > 0 and variants["langgraph"]["peak_kib"] > 0, name
        else:  # lgtrace skipped itself cleanly (e.g. no tokens yet), LangGraph was still timed
            assert variants["lgtrace"]["status"] == "skipped" and variants["lgtrace"]["reason"], name


def _check_tracing(rec: dict[str, Any]) -> None:
    """A tracing case: every variant timed (or skipped because its package is missing), spans
    exported by every traced one, added times derived for lgtrace's handler."""
    name = rec["name"]
    assert rec["status"] in ("ok", "partial"), f"{name}: {rec['status']}: {rec['reason']}"
    assert rec["repeats"] > 0, name
    variants = rec["variants"]
    for required in ("langgraph+none", "lgtrace+none", "lgtrace+lgtrace"):
        assert _positive(variants[required]), f"{name}: {required}"
    for label, variant in variants.items():
        if variant["status"] == "skipped":
            assert "not installed" in variant["reason"], f"{name}: {label}: {variant['reason']}"
            continue
        assert variant["status"] == "ok" and _positive(variant), f"{name}: {label}"
        if not label.endswith(("+none", "+noop")):
            assert variant["spans_per_run"] > 0 and variant["token_attributes"], f"{name}: {label}"
            assert bool(variant["content_found"]) == (rec["params"]["content"] == "content_on"), label
    assert "lgtrace+lgtrace" in rec["tracing"]["added_s"], name


@pytest.mark.timeout(60)
def test_bench_persistence_quick(tmp_path: Path) -> None:
    """``python -m bench.persistence --quick``: every configuration and state size gives a row, LangGraph
    timed with and without its savers (bytes counted), lgtrace timed or skipped cleanly. No timing asserts."""
    pytest.importorskip("langgraph.checkpoint.sqlite", reason="the persistence cases use SqliteSaver")
    output = tmp_path / "persistence.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.persistence", "--quick", "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert proc.returncode == 0, f"bench.persistence failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert "B/step" in proc.stdout  # the table was printed

    data = json.loads(output.read_text())
    assert data["quick"] is True
    configs, sizes = data["settings"]["configs"], data["settings"]["sizes"]
    rows = {(r["size"], r["config"]): r for r in data["rows"]}
    assert set(rows) == {(size, config) for size in sizes for config in configs}
    for key, row in rows.items():
        lg, lgt = row["impls"]["langgraph"], row["impls"]["lgtrace"]
        if "postgres" in row["saver"] and lg["status"] == "skipped" and os.environ.get("CI") != "true":
            assert "PostgreSQL" in lg["reason"], key  # (no PostgreSQL on this machine: said so)
            continue
        assert lg["status"] == "ok" and lg["median_s"] > 0, key
        assert lgt["status"] in ("ok", "skipped"), f"{key}: {lgt['reason']}"
        if row["saver"] != "none":
            assert lg["bytes_per_step"] > 0, key
            assert lg["added_median_s_per_step"] is not None, key
            if lgt["status"] == "ok":  # (the ratio may be None: in 3 quick rounds an added time can be <= 0)
                assert lgt["bytes_per_step"] > 0 and "ratio" in row, key


@pytest.mark.timeout(60)
def test_bench_ttft_quick(tmp_path: Path) -> None:
    """``python -m bench.ttft --quick``: every row timed for both handler settings (the check run
    asserts the measured variant's spans have a time to first chunk). No timing asserts."""
    output = tmp_path / "ttft.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ttft", "--quick", "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert proc.returncode == 0, f"bench.ttft failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    data = json.loads(output.read_text())
    settings = data["settings"]
    rows = {(r["tokens"], r["mode"]) for r in data["results"]}
    assert rows == {(t, m) for t in settings["tokens"] for m in settings["modes"]}
    for row in data["results"]:
        assert all(len(v) == settings["rounds"] for v in row["samples_s"].values())
        assert row["ttfc_median_s"] > 0


@pytest.mark.timeout(60)
def test_bench_func_quick(tmp_path: Path) -> None:
    """``python -m bench.func --quick``: every pattern x call x configuration validated (both runtimes
    agree) and timed with per-call figures for both runtimes. No timing asserts."""
    output = tmp_path / "func.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.func", "--quick", "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert proc.returncode == 0, f"bench.func failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    data = json.loads(output.read_text())
    settings = data["settings"]
    rows = {(r["pattern"], r["mode"], r["config"]) for r in data["results"]}
    assert rows == {
        (p, m, c) for p in settings["patterns"] for m in settings["modes"] for c in settings["configs"]
    }
    for row in data["results"]:
        assert row["status"] == "ok", row
        for impl in ("lgtrace", "langgraph"):
            assert len(row["impls"][impl]["samples_s"]) == settings["rounds"]
            assert row["impls"][impl]["median_s"] > 0


@pytest.mark.timeout(120)
def test_bench_server_quick(tmp_path: Path) -> None:
    """``python -m bench.server --quick``: every server streams every run correctly under both models
    (``langgraph dev`` may be skipped where langgraph-cli is not installed), the disconnect trials
    close the model stream. No timing asserts."""
    pytest.importorskip("langgraph_sdk", reason="bench.server drives the servers with langgraph-sdk")
    pytest.importorskip("psutil", reason="bench.server samples the servers' RSS with psutil")
    output = tmp_path / "server.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.server", "--quick", "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, f"bench.server failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    data = json.loads(output.read_text())
    assert set(data["models"]) == {"http", "local"}
    for kind, block in data["models"].items():
        servers = block["servers"]
        assert set(servers) == {"lgtrace", "langgraph", "lgtrace-memory"}, kind
        for name, rec in servers.items():
            if name == "langgraph" and rec["status"] == "skipped":
                assert "not installed" in rec["reason"]
                continue
            assert rec["status"] == "ok", f"{kind}/{name}: {rec.get('reason')}"
            assert rec["summary"]["tokens_per_s_median"] > 0 and rec["summary"]["peak_rss_mib"] > 0
        if kind == "http":
            assert block["anchor"]["status"] == "ok"
            assert servers["lgtrace"]["summary"]["disconnect_not_closed"] == 0
            assert servers["lgtrace"]["summary"]["disconnect_closed_median_s"] is not None


@pytest.mark.timeout(120)
def test_bench_scale_quick(tmp_path: Path, postgres_url: str, redis_server: object) -> None:
    """``python -m bench.scale --quick`` (its own PostgreSQL and redis-server; the fixtures only make
    the test skip, or fail under CI=true, where they are missing): 1 and 2 workers stream every run
    completely, a cancel sent to the other worker ends the run. No timing asserts."""
    output = tmp_path / "scale.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--quick", "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, f"bench.scale failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    data = json.loads(output.read_text())
    assert set(data["configs"]) == {"workers=1", "workers=2"}
    for name, rec in data["configs"].items():
        assert rec["status"] == "ok" and rec["summary"]["errors"] == 0, f"{name}: {rec.get('reason')}"
        assert rec["summary"]["tokens_per_s_median"] > 0
    assert len(data["configs"]["workers=2"]["runs_per_worker_measured"]) == 2  # both workers ran runs
    assert data["cancel"]["status"] == "ok"
    assert all(t["final_status"] == "interrupted" for t in data["cancel"]["trials"])
