"""How much does the harness cost? The PyTorch CNN timed through the harness (child process,
Stopwatch, progress events, windows) against the same implementation driven by a bare loop in a
fresh process, the two started the same way and alternated (harness first in odd repeats, bare
first in even ones). Prints both, the ratio harness/bare of each pair, and their spread.

    python benchmarks/harness_overhead.py [--repeats 4] [--profile quick] [--device auto]

What the two paths share, so that only the harness differs: the interpreter, the environment
(harness.run.child.child_environment with the row's variables), the working folder, output to a
log file, a new session; the class the registry names; the data (harness.run.worker.
training_data); the windows and permutations (harness.windows, harness.protocol.epoch_order); a sync
before every clock read. Earlier versions started the bare loop with another environment and
output pipe, timed only one epoch in one piece, and always ran it second, after the harness
run: the ratio read 0.90, 0.97 and 0.78 (harness faster), an order and set-up effect.

Compared: the steady state (samples/s over the windows after the first, the harness's
headline) and the whole epoch (warm-up window included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def bare(profile: str, device: str, seed: int, out: Path) -> None:
    """The same row, no harness: the same steps in the same order, timed with a bare clock."""
    from harness import benchmarks
    from harness.protocol import epoch_order
    from harness.windows import EVALUATE
    from harness.registry import by_name
    from harness.run.job import Job
    from harness.run.worker import load_class, training_data

    row = by_name("pytorch")
    benchmark = benchmarks.get("cnn")
    implementation = load_class("cnn", row.entry_points["cnn"], row.name)
    data = training_data(Job(benchmark="cnn", impl=row.name, entry_point="", profile=profile,
                             data="synthetic", seed=seed))
    config = benchmark.config_for(profile)
    impl = implementation(device=device, **row.options)
    impl.prepare(data)
    impl.build(config, seed)
    seconds, samples, steady = [], [], []
    rule = benchmark.windows(profile)
    for epoch in range(benchmark.epochs(profile)):
        plan = rule.plan(epoch_order(seed, epoch, len(data.x_train), config.batch_size),
                         config.batch_size, first_epoch=epoch == 0)
        for window in plan:  # the harness's own windows, so that both time the same work
            if window is EVALUATE:
                impl.predict()
                continue
            impl.sync()
            start = time.perf_counter()
            impl.train_epoch(window)
            impl.sync()
            seconds.append(time.perf_counter() - start)
            samples.append(len(window))
            plan.took(seconds[-1])
        steady += plan.steady
    rates = ([n / s for n, s, counted in zip(samples, seconds, steady) if counted]
             or [samples[0] / seconds[0]])
    out.write_text(json.dumps({"samples_per_s": statistics.median(rates),
                               "train_s": sum(seconds)}))


def run_bare(profile: str, device: str, folder: Path, repeat: int) -> dict:
    from harness.registry import by_name
    from harness.run.child import child_environment, run_module

    from harness.run.load import machine_load, snapshot

    result = folder / f"bare-{repeat}.json"
    before = snapshot()
    done = run_module(sys.executable, "benchmarks.harness_overhead",
                      ["--bare", "--profile", profile, "--device", device, "--out", str(result)],
                      env=child_environment(dict(by_name("pytorch").env)), timeout=3600,
                      log_path=folder / f"bare-{repeat}.log")
    if done.returncode != 0:
        raise SystemExit(f"bare run failed; log: {done.log}")
    return {**json.loads(result.read_text()), "load": machine_load(before, snapshot(),
                                                                  done.wall_s)}


def h_load(timings: dict) -> str:
    other = (timings.get("load") or {}).get("other_cores")
    return "?" if other is None else f"{other:.2f}"


def spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):.3f} (min {min(values):.3f}, max "
            f"{max(values):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare(args.profile, args.device, seed=0, out=args.out)
        return

    from harness.registry import by_name
    from harness.run.runner import RunSettings, run_one

    pairs: list[tuple[dict, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = RunSettings(profile=args.profile, data="synthetic", device=args.device,
                               timeout=3600, results=folder / "results.jsonl")
        for repeat in range(args.repeats):
            def through_harness(repeat: int = repeat) -> dict:
                record = run_one(by_name("pytorch"), "cnn", repeat, settings)
                if record["status"] != "ok":
                    raise SystemExit(f"harness run failed: {record['reason']}")
                return {**record["timings"], "load": record["load"]}

            if repeat % 2 == 0:
                harness, plain = through_harness(), run_bare(args.profile, args.device, folder,
                                                             repeat)
            else:
                plain = run_bare(args.profile, args.device, folder, repeat)
                harness = through_harness()
            pairs.append((harness, plain))
            print(f"repeat {repeat + 1} ({'harness' if repeat % 2 == 0 else 'bare'} first): "
                  f"steady samples/s harness {harness['samples_per_s']:.1f}, bare "
                  f"{plain['samples_per_s']:.1f}; epoch s harness {harness['train_s']:.3f}, "
                  f"bare {plain['train_s']:.3f}; other processes used "
                  f"{h_load(harness)} / {h_load(plain)} cores", flush=True)
    busy = sum(bool((x.get("load") or {}).get("busy")) for pair in pairs for x in pair)
    if busy:
        print(f"warning: {busy} of {2 * len(pairs)} runs were measured on a busy machine "
              f"(harness.run.load): the ratios below mean little; rerun on a quiet machine")
    # Throughput: bare/harness, so that > 1 means the harness is slower, as for times.
    steady = [p["samples_per_s"] / h["samples_per_s"] for h, p in pairs]
    whole = [h["train_s"] / p["train_s"] for h, p in pairs]
    print(f"PyTorch CNN, profile {args.profile}, device {args.device}, {args.repeats} "
          f"alternating repeats; ratio > 1: the harness is slower")
    print(f"steady state, harness time / bare time: {spread(steady)}")
    print(f"whole epoch,  harness time / bare time: {spread(whole)}")


if __name__ == "__main__":
    main()
