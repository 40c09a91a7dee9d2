"""``python -m bench``: run every benchmark, print a table, write JSON results."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.cases import CASES
from bench.core import Case
from bench.machine import load_average, machine_info
from bench.runner import FULL, LEGEND, QUICK, format_table, log_line, now, profile_case, run_case

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny sizes, few repeats (CI smoke)")
    p.add_argument(
        "--filter",
        "-k",
        action="append",
        default=[],
        metavar="REGEX",
        help="run only cases whose name matches (re.search); repeatable, OR-ed",
    )
    p.add_argument("--repeats", type=int, help="exactly this many timed rounds per case")
    p.add_argument("--budget", type=float, help="target timed seconds per case (default 6, quick 0.2)")
    p.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    p.add_argument("--output", "-o", type=Path, default=DEFAULT_OUTPUT, help="JSON results path")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--show", type=Path, metavar="JSON", help="print the table of a results file and exit")
    p.add_argument(
        "--profile",
        nargs="?",
        const="lgtrace",
        metavar="PREFIX",
        help="instead of timing, cProfile one run of each selected case (default: lgtrace)",
    )
    return p.parse_args(argv)


def _select(patterns: list[str]) -> list[Case]:
    if not patterns:
        return list(CASES)
    regexes = [re.compile(p) for p in patterns]
    return [c for c in CASES if any(r.search(c.name) for r in regexes)]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.show:
        data = json.loads(args.show.read_text())
        print(format_table(data["cases"]))
        print(LEGEND)
        return 0
    cases = _select(args.filter)
    if args.list:
        for c in cases:
            print(f"{c.name:<40} [{c.group}] {'SLOT ' if c.slot else ''}{c.description}")
        return 0
    if not cases:
        print("no case matches", args.filter, file=sys.stderr)
        return 2

    settings = QUICK if args.quick else FULL
    if args.repeats is not None:
        settings = replace(settings, min_repeats=args.repeats, max_repeats=args.repeats)
    if args.budget is not None:
        settings = replace(settings, budget_s=args.budget)
    if args.no_memory:
        settings = replace(settings, memory=False)

    if args.profile:
        for c in cases:
            print(profile_case(c, settings, args.profile))
        return 0

    info = machine_info()
    print(
        f"bench: {len(cases)} cases, {'quick' if settings.quick else 'full'} mode; "
        f"{info['cpu_model']}, {info['cores_logical']} cores, python {info['python']}, "
        f"load {info['load_average_start']}"
    )
    records: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "schema": 1,
        "quick": settings.quick,
        "settings": vars(settings) | {"filter": args.filter},
        "machine": info,
        "cases": records,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    t_start = now()
    for case in cases:
        t0 = now()
        rec = run_case(case, settings)
        rec["elapsed_s"] = round(now() - t0, 3)
        records.append(rec)
        print(log_line(rec, rec["elapsed_s"]), flush=True)
        info["load_average_end"] = load_average()
        result["total_elapsed_s"] = round(now() - t_start, 3)
        args.output.write_text(json.dumps(result, indent=1, default=str) + "\n")

    print()
    print(format_table(records))
    print(LEGEND)
    print(f"total {result['total_elapsed_s']:.0f} s; load {info['load_average_end']}; wrote {args.output}")
    bad = [r["name"] for r in records if r["status"] in ("error", "mismatch")]
    if bad:
        print(f"FAILED cases (error or mismatch): {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
