"""Why is one jax release slower than another at docs/benchmarks.md §2's CNN training step on this CPU?

Times one jitted training step (forward, backward, SGD with momentum, dropout) of the VGG-style
CNN, batch 64, written in plain `jax.lax` so that only jax/jaxlib (XLA) vary - no Flax or Optax
- for each layout (NHWC, NCHW) and each set of XLA CPU flags below, every combination in a fresh
process (XLA reads XLA_FLAGS once). Wall time and process CPU time (all threads) are both
printed: on a shared machine the CPU time is the steadier of the two. Run it with each
interpreter to compare, e.g.:

    python benchmarks/jax_cpu_versions.py                       # this environment's jax
    python benchmarks/jax_cpu_versions.py --python /tmp/jax071/bin/python   # another jax

A flag a jaxlib does not know aborts that child: its row says "unknown flag".

Measured 2026-11-26 on this project's 2-core AMD EPYC VM, shared with other jobs (load average
10-17, so wall times are inflated and noisy; the process CPU time a step is the steadier
figure), batch 64, median of 4-6 steps:

| jax    | layout | XLA_FLAGS                                        | CPU ms/step |
|--------|--------|--------------------------------------------------|-------------|
| 0.10.2 | NHWC   | (default)                                        | 2838, 2748  |
| 0.10.2 | NHWC   | --xla_cpu_experimental_ynn_fusion_type=          | 1092        |
| 0.7.1  | NHWC   | (default)                                        | 1091        |
| 0.10.2 | NCHW   | (default)                                        | 2477        |
| 0.10.2 | NCHW   | --xla_cpu_experimental_ynn_fusion_type=          | 1079        |
| 0.7.1  | NCHW   | (default)                                        | 1197        |
| 0.10.2 | NHWC   | --xla_cpu_use_xnnpack=false                      | 2454        |
| 0.10.2 | NHWC   | --xla_cpu_use_onednn=true                        | 2591        |
| 0.10.2 | NHWC   | --xla_cpu_use_thunk_runtime=false                | 2451        |

Re-measured 2026-11-26 on the same VM when it was quiet (load average below 1.5), batch 64, NHWC,
median of 6-10 steps, wall ms/step (CPU ms in brackets); the last four rows alternate 0.10.2
(no YNN) and 0.7.1 back to back:

| jax 0.10.2 default | jax 0.10.2 no YNN fusions | jax 0.7.1 default |
|--------------------|---------------------------|-------------------|
| 1324 (1673)        | 486 (934)                 | 410 (786)         |
|                    | 453 (873), 425 (826)      | 417 (791), 472 (889) |

So on a quiet machine the YNN fusions cost 2.7x in wall time, and without them 0.10.2 is within
the run-to-run spread of 0.7.1.

The 2.3-2.6x regression is XLA:CPU's YNNPACK fusions (new since 0.7.1, which does not know the
flag): switching them off gives 0.7.1's cost (within the spread). Layout, XNNPACK, oneDNN and the legacy
runtime flag change nothing. Upstream reports of YNN-fusion slowdowns and crashes on x86-64:
jax-ml/jax#37465, jax-ml/jax#39257, openxla/xla#46351. py_impls/jax_flax.py therefore keeps
jax 0.10.2 (flax 0.12 needs jax >= 0.10) and sets the flag for its runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

FLAG_SETS = {
    "default": "",
    "no-xnnpack": "--xla_cpu_use_xnnpack=false",
    "no-ynn": "--xla_cpu_experimental_ynn_fusion_type=",
    "no-xnn-fusion": "--xla_cpu_experimental_xnn_fusion_type=",
    "onednn": "--xla_cpu_use_onednn=true",
    "no-fusion-emitters": "--xla_cpu_use_fusion_emitters=false",
    "legacy-runtime": "--xla_cpu_use_thunk_runtime=false",
}


def time_step(layout: str, steps: int, warmup: int) -> dict:
    """Median milliseconds of one training step, measured in this process."""
    import statistics
    import time

    import jax
    import jax.numpy as jnp
    import numpy as np

    nhwc = layout == "NHWC"
    dims = ("NHWC", "HWIO", "NHWC") if nhwc else ("NCHW", "OIHW", "NCHW")
    window = (1, 2, 2, 1) if nhwc else (1, 1, 2, 2)

    def conv(x, w, b):
        y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dims)
        return y + (b if nhwc else b[:, None, None])

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")

    def dropout(key, x, rate):
        keep = jax.random.bernoulli(key, 1 - rate, x.shape)
        return jnp.where(keep, x / (1 - rate), 0)

    def loss_fn(p, x, y, key):
        k1, k2, k3 = jax.random.split(key, 3)
        h = jax.nn.relu(conv(x, *p["conv1"]))
        h = dropout(k1, jax.nn.relu(pool(conv(h, *p["conv2"]))), 0.25)
        h = jax.nn.relu(conv(h, *p["conv3"]))
        h = dropout(k2, jax.nn.relu(pool(conv(h, *p["conv4"]))), 0.25)
        h = dropout(k3, jax.nn.relu(h.reshape(len(h), -1) @ p["fc1"][0] + p["fc1"][1]), 0.5)
        logits = h @ p["fc2"][0] + p["fc2"][1]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

    @jax.jit
    def step(p, v, x, y, key):
        g = jax.grad(loss_fn)(p, x, y, key)
        v = jax.tree.map(lambda v, g: 0.9 * v + g, v, g)
        return jax.tree.map(lambda p, v: p - 0.01 * v, p, v), v

    rng = np.random.default_rng(0)
    shapes = {"conv1": (3, 50), "conv2": (50, 50), "conv3": (50, 100), "conv4": (100, 100)}
    p = {}
    for name, (cin, cout) in shapes.items():
        w = rng.normal(0, 0.05, (3, 3, cin, cout) if nhwc else (cout, cin, 3, 3))
        p[name] = (jnp.asarray(w, jnp.float32), jnp.zeros(cout, jnp.float32))
    p["fc1"] = (jnp.asarray(rng.normal(0, 0.01, (6400, 512)), jnp.float32), jnp.zeros(512))
    p["fc2"] = (jnp.asarray(rng.normal(0, 0.05, (512, 10)), jnp.float32), jnp.zeros(10))
    v = jax.tree.map(jnp.zeros_like, p)
    x = rng.random((64, 32, 32, 3) if nhwc else (64, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, 64).astype(np.int32)
    key = jax.random.key(0)

    times, cpu_times = [], []
    for i in range(warmup + steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        p, v = jax.block_until_ready(step(p, v, x, y, jax.random.fold_in(key, i)))
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return {"jax": jax.__version__, "layout": layout, "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "first_ms": 1000 * times[0], "median_ms": 1000 * statistics.median(times[warmup:]),
            "cpu_ms": 1000 * statistics.median(cpu_times[warmup:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter whose jax to time")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--flags", nargs="*", default=list(FLAG_SETS), choices=list(FLAG_SETS))
    parser.add_argument("--layouts", nargs="*", default=["NHWC", "NCHW"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measurement, in a process whose XLA_FLAGS are already set
        print(json.dumps(time_step(args.child, args.steps, args.warmup)))
        return
    for layout in args.layouts:
        for name in args.flags:
            env = {**os.environ, "XLA_FLAGS": FLAG_SETS[name]}
            done = subprocess.run([args.python, __file__, "--child", layout, "--steps",
                                   str(args.steps), "--warmup", str(args.warmup)],
                                  env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-1:] or ["?"]
                reason = "unknown flag" if "Unknown flag" in done.stderr else tail[0][:100]
                print(f"{layout:5} {name:20} failed: {reason}", flush=True)
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"jax {r['jax']:7} {layout:5} {name:20} step {r['median_ms']:7.1f} ms wall, "
                  f"{r['cpu_ms']:7.1f} ms CPU (first step {r['first_ms']:6.0f} ms)", flush=True)


if __name__ == "__main__":
    main()
