"""Every result column, declared once: what it is called, its unit, which direction is better,
how it is formatted and which benchmarks it applies to.

The live table of a run, `report`'s tables, its Markdown, CSV and JSON exports and the plots all
read this list; adding a column is one entry here plus the code that measures it (the worker
puts the figure into the record's `timings`, or at the record's top level for `where="record"`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.benchmarks import INFERENCE, TRAINING, Benchmark

LOWER, HIGHER = "lower", "higher"


def fmt(value: float | None, digits: int | None = None) -> str:
    """Numbers for people: thousands separated, about three significant digits, and a fixed
    number of decimals below 1 so that a column of seconds lines up."""
    if value is None:
        return "-"
    if digits is not None:
        return f"{value:.{digits}f}"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}" if value >= 0.001 or value == 0 else f"{value:.1e}"


@dataclass(frozen=True)
class Metric:
    key: str  # in the record: `record[where][key]`, or `record[key]` with where="record"
    label: str  # column header
    unit: str
    better: str  # LOWER or HIGHER
    kinds: tuple[str, ...]  # the benchmark kinds it applies to
    description: str  # one line, for axis labels and the docs
    digits: int | None = None  # fixed decimals; None: `fmt`'s about three significant digits
    where: str = "timings"  # the record's section: timings, utilisation, memory; or "record"
    short: str | None = None  # a two-line header for narrow terminals
    scale: float = 1.0  # stored value x scale = the value in `unit` (bytes -> MiB, ...)
    # The record's list of this figure per timed window or pass (`timings[samples]`), which
    # repeats pool into one median and spread; None: one value a run.
    samples: str | None = None
    table: bool = True  # shown in the terminal and Markdown tables (the exports keep every one)

    def applies(self, benchmark: Benchmark) -> bool:
        return benchmark.kind in self.kinds

    def value(self, record: dict[str, Any]) -> float | None:
        source = record if self.where == "record" else (record.get(self.where) or {})
        value = number(source.get(self.key)) if isinstance(source, dict) else None
        return None if value is None else value * self.scale

    def samples_of(self, record: dict[str, Any]) -> list[float]:
        """The figure of each timed window or pass of a run (schema 3), else its one value."""
        source = record.get(self.where) if self.where != "record" else record
        listed = source.get(self.samples) if self.samples and isinstance(source, dict) else None
        if isinstance(listed, list):
            values = [number(v) for v in listed]
            return [v * self.scale for v in values if v is not None]
        value = self.value(record)
        return [] if value is None else [value]

    def format(self, value: float | None) -> str:
        return fmt(value, self.digits)

    @property
    def header(self) -> str:
        return self.short or self.label


def number(value: Any) -> float | None:
    """A figure from a record: None for anything that is not a real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


METRICS: tuple[Metric, ...] = (
    Metric("samples_per_s", "samples/s", "samples/s", HIGHER, (TRAINING,),
           "training samples per second in the steady state: the median over the timed "
           "windows after the first", samples="window_samples_per_s"),
    Metric("warmup_s", "compile + warm-up s", "s", LOWER, (TRAINING, INFERENCE),
           "seconds of the first training window, or of the inference warm-up batches: "
           "compilation, autotuning, first allocations", short="compile +\nwarm-up s"),
    Metric("train_s", "train s", "s", LOWER, (TRAINING,),
           "training seconds (sum of epochs)", short="train\ns"),
    Metric("first_epoch_s", "first epoch s", "s", LOWER, (TRAINING,),
           "seconds of the first epoch (carries compilation and autotuning)",
           short="first\nepoch s", table=False),
    Metric("steady_epoch_s", "steady epoch s", "s", LOWER, (TRAINING,),
           "median seconds of the epochs after the first", short="steady\nepoch s",
           table=False),
    Metric("eval_s", "eval s", "s", LOWER, (TRAINING,),
           "seconds to predict the whole test set", short="eval\ns"),
    Metric("accuracy", "accuracy", "", HIGHER, (TRAINING,),
           "test accuracy after the last epoch", digits=3, where="record"),
    Metric("s_per_1000", "s / 1000 images", "s / 1000 images", LOWER, (INFERENCE,),
           "seconds per 1,000 images (median over timed passes)", short="s / 1000\nimages",
           samples="pass_s_per_1000"),
    Metric("images_per_s", "images/s", "images/s", HIGHER, (INFERENCE,),
           "images per second (median pass)", samples="pass_images_per_s"),
    # How close to the machine (harness.run.utilisation).
    Metric("flops_per_s", "GFLOP/s", "GFLOP/s", HIGHER, (TRAINING, INFERENCE),
           "achieved: FLOPs per sample (docs/benchmarks.md §11) x steady samples per second",
           where="utilisation", scale=1e-9, table=False),
    Metric("pct_of_measured_peak", "% of peak", "%", HIGHER, (TRAINING, INFERENCE),
           "achieved rate / the matrix-multiply rate this framework reaches on this device",
           digits=0, where="utilisation", short="% of\npeak"),
    Metric("host_peak_bytes", "peak RSS MiB", "MiB", LOWER, (TRAINING, INFERENCE),
           "the run's process at its resident-memory high-water mark", digits=0,
           where="memory", scale=1 / 2**20, short="peak RSS\nMiB"),
    Metric("device_peak_bytes", "device MiB", "MiB", LOWER, (TRAINING, INFERENCE),
           "device memory at its high-water mark (GPU runs)", digits=0, where="memory",
           scale=1 / 2**20, short="device\nMiB"),
    Metric("other_cores", "other load", "cores", LOWER, (TRAINING, INFERENCE),
           "cores other processes used on average during the run (harness.run.load)",
           digits=2, where="load", table=False),
)


def get(key: str) -> Metric:
    for metric in METRICS:
        if metric.key == key:
            return metric
    raise KeyError(f"unknown metric {key!r}; known: {', '.join(m.key for m in METRICS)}")


def for_benchmark(benchmark: Benchmark) -> list[Metric]:
    """The columns a benchmark's tables show, its headline first."""
    headline = get(benchmark.headline)
    return [headline] + [m for m in METRICS if m.applies(benchmark) and m is not headline]
