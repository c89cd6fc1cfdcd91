"""Stored results, loaded, grouped and compared: what `python -m harness report` shows.

Loading is tolerant: a line that is not JSON (a run killed mid-write, a hand edit) is reported
with its line number and skipped (harness.run.results.scan_results), and so is a record whose
fields have the wrong shape (a list where a name belongs: `record_problem`); a record missing
keys (older or newer schema) gets defaults. Runs that overlapped in time on one machine are
named by harness.report.overlap.
Repeats collapse into one row per (benchmark, impl, variant, device, profile, data) with the
median, min-max spread and count of the headline figure over every timed window (or pass) of
every run; one table per (benchmark, device, profile, data), since a ratio between a quick and a
full run, or two devices, means nothing. Rows are ranked, and ties marked, by
harness.report.ranking.

`--compare OTHER` matches rows of two result sets by (benchmark, impl, variant, profile, data,
cpu/cuda) - the device name may differ: comparing two machines is a purpose - and reports the
ratio of medians. A change is called noise when the two sets' min-max ranges over repeats
overlap; with a single run on either side there is no spread to judge by, and the verdict says so.
`--vs-default` makes the same comparison inside one set: each variant row (a `--precision` run)
against the same row's default run, matched by everything but the variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from harness import benchmarks, metrics
from harness.report.ranking import Spread, overlaps, pooled, rank
from harness.report.reference import ReferenceFigure, reference_for
from harness.report.verified import Verified, is_verify_record, latest
from harness.report.verified import key as verify_key
from harness.run.results import not_a_regular_file, scan_results

OK = "ok"


# ---------------------------------------------------------------- loading

@dataclass
class Loaded:
    records: list[dict[str, Any]]  # runs
    warnings: list[str]
    sources: list[Path]
    verified: list[dict[str, Any]] = field(default_factory=list)  # `verify` outcomes


def results_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and the `*.jsonl` files inside folders named."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise FileNotFoundError(f"{path} is a folder without *.jsonl results files")
            files += found
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise FileNotFoundError(f"{path} {not_a_regular_file(path)}: name a results file "
                                    f"(a JSON-lines file) or a folder of them")
        else:
            raise FileNotFoundError(f"no results at {path}: run a benchmark first "
                                    f"(python -m harness all) or name a results file")
    return files


def load_results(paths: Iterable[str | Path]) -> Loaded:
    """Every usable record of the files (or folders) named, with a warning per skipped line."""
    files = results_files(paths)
    records: list[dict[str, Any]] = []
    verified: list[dict[str, Any]] = []
    warnings: list[str] = []
    for path in files:
        found, damaged = scan_results(path)
        problems = dict(damaged)  # line number -> what is wrong; one entry a line
        for number, record in found:
            problem = record_problem(record)
            if problem is None:
                (verified if is_verify_record(record) else records).append(record)
            elif number in problems:  # the record after a fragment: the whole line is lost
                problems[number] = (f"a damaged fragment, then a record that cannot be used "
                                    f"({problem}): the line skipped")
            else:
                problems[number] = f"{problem}, skipped"
        warnings += [f"{path}:{number}: {problem}" for number, problem in sorted(problems.items())]
    return Loaded(records, warnings, files, verified)


# The sections of a record that readers look into: each, where present, is a JSON object.
SECTIONS = ("env", "load", "timings", "utilisation", "memory", "slurm")


def record_problem(record: Any) -> str | None:
    """Why a stored record cannot be grouped and shown (a hand edit, another tool's output),
    in a few words; None when it can. Every field the tables, exports and the overlap check
    read is checked here, so that one odd record is skipped and named, never a crash."""
    if not isinstance(record, dict):
        return "not a JSON object"
    missing = [k for k in ("benchmark", "impl") if record.get(k) is None or record[k] == ""]
    if missing:
        return f"no {' or '.join(missing)}"
    wrong = [f"{key} is {_json_kind(record[key])}, not a name"
             for key in ("benchmark", "impl") if not isinstance(record[key], str)]
    wrong += [f"{key} is {_json_kind(record[key])}, not an object"
              for key in SECTIONS if record.get(key) is not None
              and not isinstance(record[key], dict)]
    if isinstance(record.get("run_id"), (list, dict)):  # run ids are kept in sets
        wrong.append(f"run_id is {_json_kind(record['run_id'])}, not a name")
    cores = (record.get("load") or {}).get("other_cores") if not wrong else None
    if cores is not None and metrics.number(cores) is None:
        wrong.append(f"load.other_cores is {_json_kind(cores)}, not a number")
    if wrong:
        return "; ".join(wrong)
    if record["benchmark"] not in benchmarks.REGISTRY:
        return f"unknown benchmark {record['benchmark']!r}"
    return None


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def status_of(record: dict[str, Any]) -> str:
    """A record without a status (an older schema) counts as ok when it has its headline."""
    status = record.get("status")
    if status:
        return str(status)
    headline = metrics.get(benchmarks.get(record["benchmark"]).headline)
    return OK if headline.value(record) is not None else "unknown"


def device_label(record: dict[str, Any]) -> str:
    """The one name of a run's device, the same whichever framework ran on it (so that one
    device makes one table): a GPU's name; for any CPU run the CPU model and thread count,
    whatever the framework calls its CPU device ("cpu", "@numpy", "CPU:0", ...)."""
    device = str(record.get("device") or "cpu")
    name = str(record.get("device_name") or "")
    env = record.get("env") or {}
    if device.lower() != "cuda" and not _gpu_name(name):
        if env.get("cpu"):
            threads = f", {env['threads']} threads" if env.get("threads") else ""
            return f"cpu: {env['cpu']}{threads}"
        return "cpu"
    if name and name.lower() != device.lower():
        return name
    return name or device


def _gpu_name(name: str) -> bool:
    return any(word in name.lower() for word in ("nvidia", "cuda", "gpu", "tesla", "geforce"))


# ---------------------------------------------------------------- grouping


@dataclass
class Group:
    """The repeats of one implementation on one device, profile and data kind."""

    benchmark: str
    impl: str
    variant: str
    device: str  # device_label
    profile: str
    data: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    ratio: float | None = None  # times slower than the fastest row of its table
    tied: bool = False  # its headline spread overlaps the row ranked above (ranking.rank)
    reference: dict[str, ReferenceFigure] = field(default_factory=dict)
    verified: Verified | None = None  # the newest `verify` outcome of this row, where given

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if status_of(r) == OK]

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if status_of(r) != OK]

    @property
    def headline_key(self) -> str:
        return benchmarks.get(self.benchmark).headline

    def metric(self, key: str) -> Spread | None:
        """The median, min-max and count of one metric over every timed window or pass of the
        successful runs (one value a run for a figure without windows)."""
        return pooled(metrics.get(key), self.ok)

    @property
    def busy(self) -> list[dict[str, Any]]:
        """Successful runs measured while other processes used the CPUs (harness.run.load)."""
        return [r for r in self.ok if (r.get("load") or {}).get("busy")]

    @property
    def headline(self) -> Spread | None:
        return self.metric(self.headline_key)

    @property
    def accuracy(self) -> Spread | None:
        return self.metric("accuracy")

    def _first(self, key: str) -> str:
        values = [str(r[key]) for r in (self.ok or self.runs) if r.get(key)]
        return ", ".join(dict.fromkeys(values))  # distinct, in order

    @property
    def framework(self) -> str:
        return self._first("framework")

    @property
    def framework_version(self) -> str:
        return self._first("framework_version")

    @property
    def precision(self) -> str:
        return self._first("precision")

    @property
    def attention(self) -> str:
        """Which attention ran (attention benchmarks; "" elsewhere)."""
        return self._first("attention")

    @property
    def device_kind(self) -> str:
        return self._first("device") or "cpu"

    @property
    def status(self) -> str:
        """'ok', else the failures' statuses with counts when some runs did succeed."""
        failures = self.failures
        if not failures:
            return OK
        counts: dict[str, int] = {}
        for run in failures:
            counts[status_of(run)] = counts.get(status_of(run), 0) + 1
        if not self.ok and len(counts) == 1:
            return next(iter(counts))
        return ", ".join(f"{n} {status}" for status, n in counts.items())

    @property
    def failure_reasons(self) -> list[str]:
        """Each distinct failure, one line: 'timeout: no result after 1200 s' (x2 if twice)."""
        seen: dict[str, int] = {}
        for run in self.failures:
            reason = " ".join(str(run.get("reason") or "no reason recorded").split())
            text = f"{status_of(run)}: {reason}"
            seen[text] = seen.get(text, 0) + 1
        return [text + (f" (x{n})" if n > 1 else "") for text, n in seen.items()]


@dataclass
class Section:
    """One table: a benchmark on one device, profile and data kind."""

    benchmark: str
    device: str
    profile: str
    data: str
    groups: list[Group]


def group_key(record: dict[str, Any]) -> tuple[str, ...]:
    return (record["benchmark"], record["impl"], str(record.get("variant") or "default"),
            device_label(record), str(record.get("profile") or "?"),
            str(record.get("data") or "?"))


def build_sections(records: list[dict[str, Any]], with_reference: bool = True,
                   verified: list[dict[str, Any]] | None = None) -> list[Section]:
    """Group repeats, split into tables, rank rows by headline median (failed rows last);
    `verified`: verify records, each shown on the rows it speaks for (harness.report.verified)."""
    groups: dict[tuple[str, ...], Group] = {}
    outcomes = latest(verified or [])
    for record in records:
        if is_verify_record(record):
            continue  # not a run: passed to `verified` instead
        if status_of(record) in ("skipped", "interrupted"):
            continue  # table-only rows of a live run; never part of a stored comparison
        key = group_key(record)
        if key not in groups:
            groups[key] = Group(*key)
            groups[key].verified = outcomes.get(verify_key(record))
        groups[key].runs.append(record)
    tables: dict[tuple[str, ...], list[Group]] = {}
    for group in groups.values():
        tables.setdefault((group.benchmark, group.device, group.profile, group.data),
                          []).append(group)
    sections = []
    for (benchmark, device, profile, data), members in tables.items():
        headline = metrics.get(benchmarks.get(benchmark).headline)
        places = rank(members, lambda g: g.headline, headline,
                      name_of=lambda g: f"{g.impl} {g.variant}")
        for place in places:
            group = place.item
            group.ratio, group.tied = place.ratio, place.tied
            # The original's figures are full runs on real-size data: only comparable to `full`.
            if with_reference and profile == "full" and group.variant == "default":
                group.reference = reference_for(benchmark, group.impl)
        sections.append(Section(benchmark, device, profile, data, [p.item for p in places]))
    sections.sort(key=lambda s: (benchmarks.order(s.benchmark), s.profile != "full", s.device,
                                 s.data))
    return sections


# ---------------------------------------------------------------- comparing two result sets

@dataclass
class Comparison:
    benchmark: str
    impl: str
    variant: str
    profile: str
    data: str
    base: Group | None  # from --compare OTHER: the baseline
    this: Group | None  # from RESULTS
    alone: str = "only in this set"  # the verdict when there is no baseline

    @property
    def _higher_better(self) -> bool:
        group = self.this or self.base
        return metrics.get(group.headline_key).better == metrics.HIGHER

    @property
    def ratio(self) -> float | None:
        """this / base of the headline medians for a time (base / this for a throughput): < 1
        means this set is faster."""
        if self.base and self.this and self.base.headline and self.this.headline:
            this, base = self.this.headline.median, self.base.headline.median
            return base / this if self._higher_better else this / base
        return None

    @property
    def verdict(self) -> str:
        if self.base is None:
            return self.alone
        if self.this is None:
            return "only in the baseline"
        a, b = self.base.headline, self.this.headline
        if a is None or b is None:
            return "failed in " + ("both" if a is None and b is None
                                   else "baseline" if a is None else "this set")
        sign = -1 if self._higher_better else 1  # compare as times: lower is faster
        word = ("faster" if sign * b.median < sign * a.median else "slower"
                if sign * b.median > sign * a.median else "same")
        if a.n < 2 or b.n < 2:
            return f"{word}? (1 run: no spread)"
        if overlaps(a, b):
            return "noise"
        return word


def compare(this: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[Comparison]:
    """Rows of both sets matched by benchmark, impl, variant, profile, data and cpu/cuda; where
    one set holds several devices of a kind, the device name has to match as well."""
    this_groups = [g for s in build_sections(this, False) for g in s.groups]
    base_groups = [g for s in build_sections(base, False) for g in s.groups]

    def index(groups: list[Group]) -> dict[tuple[str, ...], list[Group]]:
        found: dict[tuple[str, ...], list[Group]] = {}
        for g in groups:
            found.setdefault((g.benchmark, g.impl, g.variant, g.profile, g.data, g.device_kind),
                             []).append(g)
        return found

    mine, theirs = index(this_groups), index(base_groups)
    rows = []
    for key in dict.fromkeys([*mine, *theirs]):
        a, b = mine.get(key, []), theirs.get(key, [])
        if len(a) <= 1 and len(b) <= 1:
            pairs = [(b[0] if b else None, a[0] if a else None)]
        else:  # several devices of one kind in a set: pair them by device name
            pairs = [(_on_device(b, name), _on_device(a, name))
                     for name in dict.fromkeys(g.device for g in a + b)]
        for base_group, this_group in pairs:
            g = this_group or base_group
            rows.append(Comparison(g.benchmark, g.impl, g.variant, g.profile, g.data,
                                   base=base_group, this=this_group))
    rows.sort(key=lambda c: (benchmarks.order(c.benchmark), c.profile, c.data, c.impl, c.variant))
    return rows


def compare_variants(records: list[dict[str, Any]]) -> list[Comparison]:
    """Each variant row of one result set (`pytorch (bf16-mixed)`) against the same row's
    default run on the same device, profile and data: `this` the variant, `base` the default
    (None where the set has no default run of that row)."""
    groups = [g for s in build_sections(records, False) for g in s.groups]
    defaults = {(g.benchmark, g.impl, g.profile, g.data, g.device): g for g in groups
                if g.variant == "default"}
    rows = [Comparison(g.benchmark, g.impl, g.variant, g.profile, g.data, this=g,
                       base=defaults.get((g.benchmark, g.impl, g.profile, g.data, g.device)),
                       alone="no default run of this row to compare with")
            for g in groups if g.variant != "default"]
    rows.sort(key=lambda c: (benchmarks.order(c.benchmark), c.profile, c.data, c.impl, c.variant))
    return rows


def _on_device(groups: list[Group], name: str) -> Group | None:
    return next((g for g in groups if g.device == name), None)
