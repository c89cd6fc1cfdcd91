"""How much does the harness cost? The PyTorch CNN epoch timed through the harness (child
process, Stopwatch, progress events) against the same implementation class driven by a bare
loop in a fresh process, alternated in one run. Prints both and their ratio.

    python benchmarks/harness_overhead.py [--repeats 3] [--profile quick] [--device auto]

Measured 2026-11-26 on the project's 2-core CPU VM, quiet (load average below 1.5), quick
profile, 3 alternating repeats: harness 20.5 / 20.9 / 21.1 s, bare 21.5 / 24.5 / 20.1 s; median
ratio harness/bare 0.974, i.e. no overhead distinguishable from the run-to-run spread. Not yet
measured on a GPU, where an epoch is about 2 s and the overhead would show more.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def bare_epoch(profile: str, device: str, seed: int) -> float:
    """The same CNN class, no harness: prepare, build, one timed epoch."""
    from harness.config import CNNConfig
    from harness.protocol import epoch_order
    from harness.run.worker import training_data
    from harness.run.job import Job
    from py_impls.pytorch import CNN

    data = training_data(Job(benchmark="cnn", impl="pytorch", entry_point="", profile=profile,
                             data="synthetic"))
    config = CNNConfig()
    impl = CNN(device=device)
    impl.prepare(data)
    impl.build(config, seed)
    order = epoch_order(seed, 0, len(data.x_train), config.batch_size)
    impl.sync()
    start = time.perf_counter()
    impl.train_epoch(order)
    impl.sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        print(json.dumps({"epoch_s": bare_epoch(args.profile, args.device, seed=0)}))
        return

    from harness.registry import by_name
    from harness.run.runner import RunSettings, run_one

    harness_s, bare_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        settings = RunSettings(profile=args.profile, data="synthetic", device=args.device,
                               timeout=3600, results=Path(tmp) / "results.jsonl")
        for repeat in range(args.repeats):
            record = run_one(by_name("pytorch"), "cnn", repeat, settings)
            if record["status"] != "ok":
                raise SystemExit(f"harness run failed: {record['reason']}")
            harness_s.append(record["timings"]["first_epoch_s"])
            out = subprocess.run([sys.executable, __file__, "--bare", "--profile", args.profile,
                                  "--device", args.device], capture_output=True, text=True,
                                 cwd=REPO, check=True)
            bare_s.append(json.loads(out.stdout.strip().splitlines()[-1])["epoch_s"])
            print(f"repeat {repeat + 1}: harness {harness_s[-1]:.3f} s, bare {bare_s[-1]:.3f} s")
    h, b = statistics.median(harness_s), statistics.median(bare_s)
    print(f"PyTorch CNN, first epoch, profile {args.profile}, device {args.device}, "
          f"{args.repeats} alternating repeats")
    print(f"median epoch: harness {h:.3f} s, bare {b:.3f} s, harness/bare = {h / b:.3f}")


if __name__ == "__main__":
    main()
