"""`python -m harness cnn|rnn|inference|all`: run benchmarks, one child process per
(implementation, benchmark, repeat) (harness.run.runner), then print the results table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.panel import Panel
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn)

from harness import benchmarks, registry
from harness.commands import options
from harness.commands.terminal import console
from harness.config import PROFILES
from harness.report.groups import overlap_warning, overlapping_runs
from harness.report.live import legend, results_table
from harness.run.host import host_environment
from harness.run.results import default_results_path, scan_results, writable_problem
from harness.run.runner import (ResultNotSaved, RunSettings, StopRequest, interrupted_record,
                                run_one, skipped_record, stop_signals_as_request)


DEFAULT_TIMEOUT = {"quick": 1200.0, "full": 4 * 3600.0}


def register(sub: argparse._SubParsersAction, name: str) -> None:
    """`name` is a benchmark, or `all` for every one."""
    title = (benchmarks.get(name).title if name != "all"
             else "every benchmark with every implementation installed")
    parser = sub.add_parser(name, help=title, description=title)
    add_run_options(parser)
    parser.set_defaults(func=cmd_run,
                        benchmarks=benchmarks.names() if name == "all" else (name,))


def add_run_options(run: argparse.ArgumentParser) -> None:
    options.add_impl(run)
    run.add_argument("--profile", choices=sorted(PROFILES),
                     help="full = the benchmark exactly (docs/benchmarks.md); quick = a few thousand "
                          "samples, 1 epoch, a few inference batches (default: full with a GPU, "
                          "quick without)")
    run.add_argument("--data", choices=("auto", "real", "synthetic"), default="auto",
                     help="real data from datasets/, generated stand-ins, or real where present")
    options.add_device(run)
    run.add_argument("--repeat", type=options.positive_int, default=1, metavar="N",
                     help="runs of each implementation (at least 1), each in a fresh process")
    options.add_timeout(run, "per run, above 0 (default: 1200 quick, 14400 full)")
    options.results_option(run, f"{default_results_path()}; env HARNESS_RESULTS")
    options.add_data_dir(run)
    run.add_argument("--weights", default=None, metavar="FILE",
                     help="canonical ResNet-50 weights (HDF5) for inference; default: random")
    options.add_seed(run)


def choose_profile(requested: str | None) -> str:
    """Never start a multi-hour CPU run unasked: without a GPU the default is `quick`."""
    if requested:
        return requested
    if registry.gpu_present():
        return "full"
    console.print(Panel(
        f"No NVIDIA GPU found, so this runs the [bold]quick[/] profile "
        f"({PROFILES['quick']}): a smoke test, not the benchmark.\n"
        f"Add [bold]--profile full[/] to run the benchmark exactly (hours on a CPU).",
        title="profile: quick", border_style="yellow"))
    return "quick"


def data_kind(benchmark: str, settings: RunSettings) -> str:
    """Which data a benchmark will read; makes missing synthetic data once, up front."""
    record = benchmarks.get(benchmark)
    if record.synthetic_only:
        return "synthetic"
    from harness.data.store import load_dataset  # NumPy and h5py only

    return load_dataset(record.dataset, kind=settings.data, data_dir=settings.data_dir,
                        n_train=1, n_test=1).kind


def cmd_run(args: argparse.Namespace) -> int:
    from harness.data.store import DataError

    try:
        names = options.implementation_names(args.impl)
    except KeyError as error:
        console.print(f"[red]{escape(error.args[0])}[/]", soft_wrap=True)
        return 2
    profile = choose_profile(args.profile)
    settings = RunSettings(
        profile=profile, data=args.data, device=args.device,
        timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT[profile],
        results=(args.results or default_results_path()).resolve(),
        data_dir=args.data_dir, weights=args.weights, seed=args.seed)
    problem = writable_problem(settings.results)
    if problem:  # before anything runs: a finished run must have somewhere to go
        console.print(f"[red]{escape(problem)}[/]", soft_wrap=True)
        return 2
    print_header(settings, args.benchmarks)

    records: dict[str, list[dict[str, Any]]] = {b: [] for b in args.benchmarks}
    kinds: dict[str, str] = {}
    plan = []
    for benchmark in args.benchmarks:
        impls = registry.select(names, benchmark)
        if not impls:
            continue
        try:
            kinds[benchmark] = data_kind(benchmark, settings)
        except DataError as error:
            console.print(f"[red]{escape(f'{benchmark}: {error}')}[/]")
            records[benchmark] += [skipped_record(i, benchmark, str(error), "") for i in impls]
            continue
        for impl in impls:
            ready = registry.readiness(impl, benchmark)
            if not ready.ready:
                records[benchmark].append(skipped_record(impl, benchmark, ready.reason, ready.fix))
                continue
            plan += [(benchmark, impl, repeat) for repeat in range(args.repeat)]

    stopped_by, unsaved = run_plan(plan, settings, records, args.repeat)

    try:
        for benchmark in args.benchmarks:
            if records[benchmark]:
                console.print(results_table(benchmark, records[benchmark], profile,
                                            kinds.get(benchmark, args.data)))
        shown = [r for rs in records.values() for r in rs if "run_id" in r]
        if shown:
            console.print(legend(shown), style="dim")
        return finish(records, settings, stopped_by, unsaved, args.benchmarks, names)
    except OSError:  # the terminal is gone (the SIGHUP of a closed session): records are kept
        if stopped_by is None:
            raise
        return stopped_by.exit_code


def run_plan(plan: list[tuple[str, Any, int]], settings: RunSettings,
             records: dict[str, list[dict[str, Any]]], repeats: int
             ) -> tuple[StopRequest | None, int]:
    """Each planned run in turn, its record (or why it did not run) added to `records`; the
    stop request if a stop signal ended the plan, and how many records could not be saved."""
    unsaved = 0
    with stop_signals_as_request() as stop:
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
                          console=console) as progress:
                for benchmark, impl, repeat in plan:
                    if stop.is_set():
                        records[benchmark].append(interrupted_record(impl, benchmark, repeat,
                                                                     stop.cause))
                        continue
                    record, saved = _run_shown(progress, impl, benchmark, repeat, repeats,
                                               settings, stop)
                    records[benchmark].append(record)
                    unsaved += not saved
        except OSError:  # the terminal is gone (a closed session's SIGHUP): records are kept
            if not stop.is_set():
                raise
    return (stop if stop.is_set() else None), unsaved


def _run_shown(progress: Progress, impl: Any, benchmark: str, repeat: int, repeats: int,
               settings: RunSettings, stop: StopRequest) -> tuple[dict[str, Any], bool]:
    """One run with its progress bar: its record and whether it was appended (if not, it is
    printed as JSON); an interrupted row when a stop signal ended it."""
    label = f"{benchmark} · {impl.name}" + (f" #{repeat + 1}" if repeats > 1 else "")
    total = _steps(benchmark, settings.profile)
    task = progress.add_task(escape(label), total=total, note="starting")
    try:
        record = run_one(impl, benchmark, repeat, settings,
                         on_event=lambda e: _show_event(progress, task, e), stop=stop)
    except KeyboardInterrupt:
        stop.set()  # a second signal, or one outside a child's run
        progress.update(task, note="[yellow]interrupted")
        return interrupted_record(impl, benchmark, repeat, stop.cause), True
    except ResultNotSaved as error:
        console.print(f"[red]{escape(str(error))}; the record, so that it is not lost (append "
                      f"it to a results file to keep it):[/]", soft_wrap=True)
        console.print(json.dumps(error.record, default=str), markup=False, highlight=False,
                      soft_wrap=True)
        record, saved = error.record, False
    else:
        saved = True
    note = "[green]done" if record["status"] == "ok" else f"[red]{record['status']}"
    progress.update(task, completed=total, note=note)
    return record, saved


def finish(records: dict[str, list[dict[str, Any]]], settings: RunSettings,
           stopped_by: StopRequest | None, unsaved: int, chosen: tuple[str, ...],
           names: list[str]) -> int:
    """The closing lines under the tables, and the exit code: 0 only when something ran and
    nothing failed, was lost or was interrupted."""
    ran = [r for rs in records.values() for r in rs if "run_id" in r]
    path = escape(str(settings.results))
    if len(ran) > unsaved:
        console.print(f"Results appended to [bold]{path}[/] (rebuild tables any time from "
                      f"that file).", soft_wrap=True)
    if unsaved:
        console.print(f"[red]{unsaved} record(s) could not be appended to {path}: they are "
                      f"printed above as JSON lines.[/]", soft_wrap=True)
    warning = _overlap_warning(settings.results, {r["run_id"] for r in ran})
    if warning:
        console.print(f"[yellow]warning: {escape(warning)}[/]", soft_wrap=True)
    if stopped_by is not None:
        console.print(f"[yellow]Interrupted by {stopped_by.cause}: finished runs are kept above "
                      f"and in the results file.[/]")
        return stopped_by.exit_code
    if unsaved or any(r["status"] not in ("ok", "skipped") for r in ran):
        return 1
    if not ran:
        what = ("every selected implementation was skipped (reasons above)"
                if any(records.values()) else
                f"no implementation named by --impl implements {', '.join(chosen)}"
                if names else f"no implementation implements {', '.join(chosen)}")
        console.print(f"[red]Nothing ran: {escape(what)}.[/]", soft_wrap=True)
        return 1
    return 0


def _overlap_warning(results: Path, ours: set[str]) -> str | None:
    """Whether one of this command's runs overlapped in time with a run another harness was
    appending to the same file (their timings are then contaminated)."""
    if not ours:
        return None
    try:
        found, _ = scan_results(results)
    except OSError:
        return None
    stored = [record for _, record in found if isinstance(record, dict)]
    return overlap_warning(overlapping_runs(stored, among=ours))


def _steps(benchmark: str, profile: str) -> int:
    """Progress-bar steps: each epoch and the evaluation, or the build and each timed pass."""
    record = benchmarks.get(benchmark)
    if record.training:
        return record.epochs(profile) + 1
    return 1 + record.config_for(profile).passes


def _show_event(progress: Progress, task: Any, event: dict[str, Any]) -> None:
    kind = event.get("event")
    if kind == "phase":
        progress.update(task, note=escape(str(event["phase"])))
    elif kind == "epoch":
        progress.update(task, advance=1,
                        note=f"epoch {event['epoch']}/{event['epochs']}: {event['seconds']:.2f} s")
    elif kind == "evaluated":
        progress.update(task, advance=1, note=f"accuracy {event['accuracy']:.3f}")
    elif kind == "pass":
        progress.update(task, advance=1, note=f"pass {event['pass']}: {event['seconds']:.2f} s")


def print_header(settings: RunSettings, benchmarks: tuple[str, ...]) -> None:
    env = host_environment()
    gpu = env.get("gpu") or "none found"
    console.print(Panel(
        f"benchmarks: {', '.join(benchmarks)}   profile: [bold]{settings.profile}[/]   "
        f"data: {settings.data}   device: {settings.device}\n"
        + escape(f"CPU: {env['cpu']} ({env['threads']} threads)   GPU: {gpu}   "
                 f"driver: {env.get('gpu_driver') or '-'}\n"
                 f"Python {env['python']}   commit {env.get('commit') or 'unknown'}   "
                 f"timeout {settings.timeout:g} s per run\nresults: {settings.results}"),
        title="Rosetta Stone benchmark harness", border_style="blue"))
