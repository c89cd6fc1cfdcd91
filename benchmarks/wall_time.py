"""Where the wall time of a run of the harness goes: per (benchmark, row) and in total, the
parts every record's `wall` holds (harness.run.worker.wall_split, harness.run.runner.wall_of):

    start        process start and the harness's own imports, up to the worker's entry
    import       importing the framework (the row's module)
    data         loading (or generating) the data
    prepare      the data into the framework's layout        build     the model
    warm-up      the first training window, or the inference warm-up batches (compilation)
    timed        the steady-state windows, or the timed inference passes: the measurement
    eval         predicting the test set (accuracy)           calibration  the matmul peak
    other        what the parts leave unexplained (writing the result, process exit)

    python benchmarks/wall_time.py [RESULTS.jsonl]       # default: results/results.jsonl
    python benchmarks/wall_time.py --run [--impl a,b] [--benchmarks cnn,rnn]
        # runs `python -m harness all --profile quick --data synthetic` into a temporary
        # file first and also prints the command's own wall time

Then each benchmark's share of the runs' wall time. Records without `wall` (schema < 3) are
listed as not measured.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PARTS = [("start", "start_s"), ("import", "import_s"), ("data", "data_s"),
         ("prepare", "prepare_s"), ("build", "build_s"), ("warm-up", "warmup_s"),
         ("timed", "timed_s"), ("eval", "eval_s"), ("calib", "calibration_s"),
         ("other", "other_s"), ("total", "total_s")]


def run_all(results: Path, impl: str | None, chosen: str | None) -> float:
    """`python -m harness` over the chosen benchmarks into `results`; its wall seconds."""
    names = chosen.split(",") if chosen else ["all"]
    start = time.perf_counter()
    for name in names:
        argv = [sys.executable, "-m", "harness", name, "--profile", "quick", "--data",
                "synthetic", "--results", str(results)] + (["--impl", impl] if impl else [])
        subprocess.run(argv, cwd=REPO, check=False, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def print_split(records: list[dict]) -> None:
    header = f"{'benchmark':<10} {'row':<22}" + "".join(f"{label:>8}" for label, _ in PARTS)
    print(header)
    print("-" * len(header))
    totals = {key: 0.0 for _, key in PARTS}
    missing = []
    for r in records:
        wall = r.get("wall")
        if not isinstance(wall, dict):
            missing.append(f"{r.get('benchmark')} {r.get('impl')}")
            continue
        cells = ""
        for _, key in PARTS:
            value = wall.get(key) or 0.0
            totals[key] += value
            cells += f"{value:8.2f}"
        print(f"{r.get('benchmark', '?'):<10} {r.get('impl', '?')[:22]:<22}{cells}")
    print("-" * len(header))
    print(f"{'all runs':<33}" + "".join(f"{totals[key]:8.1f}" for _, key in PARTS))
    whole = totals["total_s"] or 1.0
    print(f"{'share':<33}" + "".join(f"{100 * totals[key] / whole:7.0f}%" for _, key in PARTS))
    by_benchmark: dict[str, float] = {}
    for r in records:
        if isinstance(r.get("wall"), dict):
            name = str(r.get("benchmark", "?"))
            by_benchmark[name] = by_benchmark.get(name, 0.0) + (r["wall"].get("total_s") or 0.0)
    print("per benchmark: " + ", ".join(f"{name} {seconds:.1f} s ({100 * seconds / whole:.0f}%)"
                                        for name, seconds in by_benchmark.items()))
    if missing:
        print(f"not measured (records before schema 3): {', '.join(missing)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", type=Path,
                        default=REPO / "results" / "results.jsonl")
    parser.add_argument("--run", action="store_true",
                        help="run the quick `all` into a temporary file first")
    parser.add_argument("--impl", help="with --run: rows to run (as `--impl`)")
    parser.add_argument("--benchmarks", help="with --run: e.g. cnn,rnn (default: all)")
    args = parser.parse_args()
    from harness.run.results import read_results

    with tempfile.TemporaryDirectory() as tmp:
        command_s = None
        path = args.results
        if args.run:
            path = Path(tmp) / "results.jsonl"
            command_s = run_all(path, args.impl, args.benchmarks)
        if not path.is_file():
            print(f"no results at {path}: name a results file or add --run", file=sys.stderr)
            return 2
        records = [r for r in read_results(path) if r.get("status") not in ("skipped",)]
        print_split(records)
    if command_s is not None:
        runs = sum((r.get("wall") or {}).get("total_s") or 0.0 for r in records)
        print(f"command wall time {command_s:.1f} s ({command_s / 60:.1f} min); in its runs "
              f"{runs:.1f} s; outside them (parent start, table, data checks) "
              f"{command_s - runs:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
