"""Is the ranking a result or noise? Runs the quick `all` twice back to back, each into a
temporary results file, and prints per benchmark (and device) the Kendall tau between the two
rankings (harness.report.ranking): 1 is the same order, -1 the reverse. A pair of rows counts as
agreeing when both runs order it the same way, or when either run marks the two as tied (their
spreads overlap, so neither order is claimed). Target: at least 0.9 on every benchmark.

    python benchmarks/ranking_stability.py [--impl a,b,c] [--benchmarks cnn,rnn] [--repeat N]
                                           [--keep DIR]   # keep both results files there
    python benchmarks/ranking_stability.py --files A.jsonl B.jsonl  # two stored runs, no new one
    python benchmarks/ranking_stability.py --by-process RESULTS.jsonl
        # one run of several processes a row: the ranking of each row's first process against
        # that of its second (how far one process's figure is from the next one's)
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run_all(results: Path, impl: str | None, chosen: str | None, repeat: int | None) -> float:
    names = chosen.split(",") if chosen else ["all"]
    start = time.perf_counter()
    for name in names:
        argv = [sys.executable, "-m", "harness", name, "--profile", "quick", "--data",
                "synthetic", "--results", str(results)]
        argv += ["--repeat", str(repeat)] if repeat else []
        subprocess.run(argv + (["--impl", impl] if impl else []), cwd=REPO, check=False,
                       stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def rankings(path: Path) -> dict[tuple[str, str], dict[str, object]]:
    """(benchmark, device) -> {row: its Group}, for the rows with a result."""
    from harness.report.groups import build_sections, load_results

    found = {}
    for section in build_sections(load_results([path]).records, with_reference=False):
        found[(section.benchmark, section.device)] = {
            f"{g.impl} ({g.variant})" if g.variant != "default" else g.impl: g
            for g in section.groups if g.headline}
    return found


def kendall_tau(first: dict, second: dict) -> tuple[float | None, int, int]:
    """(tau, pairs, pairs tied in either run) over the rows both runs measured."""
    from harness.report.ranking import overlaps

    rows = sorted(set(first) & set(second))
    if len(rows) < 2:
        return None, 0, 0
    agree = disagree = tied = 0
    for a, b in itertools.combinations(rows, 2):
        if overlaps(first[a].headline, first[b].headline) or overlaps(
                second[a].headline, second[b].headline):
            tied += 1
            agree += 1
            continue
        # the sign of each difference is compared: whichever direction is better
        one = first[a].headline.median - first[b].headline.median
        two = second[a].headline.median - second[b].headline.median
        if (one > 0) == (two > 0):
            agree += 1
        else:
            disagree += 1
    pairs = agree + disagree
    return (agree - disagree) / pairs, pairs, tied


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", help="rows to run, as `--impl` (default: every ready row)")
    parser.add_argument("--benchmarks", help="e.g. cnn,rnn (default: all)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="`--repeat` of each run of all (default: the profile's processes)")
    parser.add_argument("--keep", type=Path,
                        help="write the two results files (first.jsonl, second.jsonl) into this "
                             "folder and keep them, e.g. for benchmarks/wall_time.py")
    parser.add_argument("--files", nargs=2, type=Path, metavar=("FIRST", "SECOND"),
                        help="compare two stored results files instead of running")
    parser.add_argument("--by-process", type=Path, metavar="RESULTS",
                        help="compare the first and the second process of each row in one file")
    args = parser.parse_args()
    if args.files or args.by_process:
        with tempfile.TemporaryDirectory() as tmp:
            paths = args.files or split_by_process(args.by_process, Path(tmp))
            first, second = (rankings(p) for p in paths)
            return print_taus(first, second, f"{paths[0]} against {paths[1]}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "first.jsonl", folder / "second.jsonl"]
        for path in paths:
            if path.exists():
                parser.error(f"{path} exists: name an empty folder with --keep")
        seconds = [run_all(p, args.impl, args.benchmarks, args.repeat) for p in paths]
        first, second = (rankings(p) if p.is_file() else {} for p in paths)
    return print_taus(first, second,
                      f"two quick runs back to back: {seconds[0]:.0f} s and {seconds[1]:.0f} s")


def split_by_process(path: Path, folder: Path) -> list[Path]:
    """Each row's first process (`repeat` 0) into one file, its second (1) into another."""
    import json

    from harness.run.results import read_results

    paths = [folder / "process1.jsonl", folder / "process2.jsonl"]
    records = read_results(path)
    for repeat, out in enumerate(paths):
        out.write_text("".join(json.dumps(r) + "\n" for r in records if r.get("repeat") == repeat))
    return paths


def print_taus(first: dict, second: dict, title: str) -> int:
    print(title)
    worst = None
    for key in sorted(set(first) | set(second)):
        tau, pairs, tied = kendall_tau(first.get(key, {}), second.get(key, {}))
        benchmark, device = key
        order = " > ".join(first.get(key, {}))
        if tau is None:
            print(f"{benchmark:<10} {device}: fewer than 2 rows measured in both runs")
            continue
        worst = tau if worst is None else min(worst, tau)
        print(f"{benchmark:<10} Kendall tau {tau:+.2f} over {pairs} pairs ({tied} tied) "
              f"on {device}; first run: {order}")
    if worst is None:
        print("no benchmark had two rows measured in both runs", file=sys.stderr)
        return 1
    print(f"lowest tau {worst:+.2f} (target: at least 0.90)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
