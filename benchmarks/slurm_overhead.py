"""What the Slurm executor costs: the quick matrix through `--executor local` and then through
`--executor slurm` (the cluster SLURM_CONF names; tests/slurm_cluster.sh starts a one-node one
here), each into a temporary results file, and prints the wall time of each command, the steady
figures of both side by side, and per job where Slurm's time went: `queue_s` (submission to the
job's function starting on the node: scheduling, sbatch, srun, the interpreter, unpickling) and
`overhead_s` (everything of the job that was not the run's own child process, collection
included) - both include waiting for the node, since every job is submitted at once and a CPU
job has the node to itself - and the start gap: from the previous job's end on the node to the
next one's start, what Slurm and submitit add between two runs.

    bash tests/slurm_cluster.sh start && export SLURM_CONF=/tmp/rosetta-slurm/slurm.conf
    python benchmarks/slurm_overhead.py [--impl a,b] [--benchmark cnn] [--device cpu] [--keep DIR]
                                        [-- EXTRA SLURM OPTIONS, e.g. --partition gpu]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run(results: Path, impl: str | None, benchmark: str, device: str, extra: list[str]
        ) -> tuple[float, int]:
    argv = [sys.executable, "-m", "harness", benchmark, "--profile", "quick", "--data",
            "synthetic", "--device", device, "--results", str(results), *extra]
    start = time.perf_counter()
    done = subprocess.run(argv + (["--impl", impl] if impl else []), cwd=REPO,
                          stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, done.returncode


def headline(record: dict) -> float | None:
    from harness import benchmarks, metrics

    return metrics.get(benchmarks.get(record["benchmark"]).headline).value(record)


def start_gaps(records: list[dict]) -> list[float]:
    """Per job after the first on a node: seconds from the previous job's function returning
    (or this job's submission, if later) to this job's function starting - the scheduler,
    sbatch, srun, the interpreter and unpickling, without the wait for the node to be free."""
    placed = sorted((r["slurm"] for r in records if (r.get("slurm") or {}).get("node_started")),
                    key=lambda p: p["node_started"])
    gaps = []
    for before, after in zip(placed, placed[1:]):
        if before.get("node") == after.get("node"):
            gaps.append(after["node_started"] - max(before["node_finished"],
                                                    after["submitted_at"]))
    return gaps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default=None, help="rows (default: every ready one)")
    parser.add_argument("--benchmark", default="all", help="cnn, rnn, inference or all")
    parser.add_argument("--device", default="auto", help="--device of both commands")
    parser.add_argument("--keep", type=Path, default=None, help="keep both results files here")
    parser.add_argument("slurm", nargs="*", help="extra options for the Slurm command")
    args = parser.parse_args()
    from harness.run.results import read_results

    folder = args.keep or Path(tempfile.mkdtemp(prefix="slurm-overhead-"))
    folder.mkdir(parents=True, exist_ok=True)
    local_s, local_rc = run(folder / "local.jsonl", args.impl, args.benchmark, args.device, [])
    slurm_s, slurm_rc = run(folder / "slurm.jsonl", args.impl, args.benchmark, args.device,
                            ["--executor", "slurm", *args.slurm])
    local = {(r["benchmark"], r["impl"]): r for r in read_results(folder / "local.jsonl")}
    slurm = {(r["benchmark"], r["impl"]): r for r in read_results(folder / "slurm.jsonl")}

    print(f"quick matrix ({args.benchmark}, {args.impl or 'every ready row'}), "
          f"{len(local)} runs locally and {len(slurm)} through Slurm")
    print(f"  wall time: local {local_s:.1f} s (exit {local_rc}), slurm {slurm_s:.1f} s "
          f"(exit {slurm_rc}), slurm/local {slurm_s / local_s:.3f}")
    print(f"\n{'benchmark':10} {'row':18} {'local':>10} {'slurm':>10} {'slurm/local':>12} "
          f"{'child s':>8} {'queue s':>8} {'overhead s':>10}")
    queue, overhead = [], []
    for key in sorted(set(local) | set(slurm)):
        mine, theirs = local.get(key, {}), slurm.get(key, {})
        a, b = headline(mine), headline(theirs)
        placement = theirs.get("slurm") or {}
        if placement.get("queue_s") is not None:
            queue.append(placement["queue_s"])
            overhead.append(placement["overhead_s"])
        ratio = f"{b / a:.3f}" if a and b else "-"
        print(f"{key[0]:10} {key[1]:18} {a or 0:10.4g} {b or 0:10.4g} {ratio:>12} "
              f"{theirs.get('wall_s') or 0:8.1f} {placement.get('queue_s') or 0:8.2f} "
              f"{placement.get('overhead_s') or 0:10.2f}")
    gaps = start_gaps(list(slurm.values()))
    if gaps:
        print(f"\nstart gap per job (the previous job's end, or this one's submission, to its "
              f"start on the node): median {statistics.median(gaps):.2f} s (min "
              f"{min(gaps):.2f}, max {max(gaps):.2f}, {len(gaps)} jobs)")
    if overhead:
        print(f"per job: queue_s median {statistics.median(queue):.2f} "
              f"(min {min(queue):.2f}, max {max(queue):.2f}); overhead_s median "
              f"{statistics.median(overhead):.2f} (min {min(overhead):.2f}, "
              f"max {max(overhead):.2f}); wall-time difference per job "
              f"{(slurm_s - local_s) / max(len(slurm), 1):.2f} s")
    print(f"(headline: steady samples/s for training, s / 1000 images for inference; "
          f"results in {folder})")
    return 0 if local_rc == slurm_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
