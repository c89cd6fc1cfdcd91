"""`python -m harness cnn|rnn|inference|all`: run benchmarks, one child process per
(implementation, benchmark, repeat) (harness.run.runner), then print the results table."""

from __future__ import annotations

import argparse
from typing import Any

from rich.panel import Panel
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn)

from harness import benchmarks, registry
from harness.commands import options
from harness.commands.terminal import console
from harness.config import PROFILES
from harness.report.live import results_table
from harness.run.host import host_environment
from harness.run.results import default_results_path
from harness.run.runner import (RunSettings, ctrl_c_as_request, interrupted_record, run_one,
                                skipped_record)


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
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="runs of each implementation, each in a fresh process")
    run.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="per run (default: 1200 quick, 14400 full)")
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
        console.print(f"[red]{error.args[0]}[/]")
        return 2
    profile = choose_profile(args.profile)
    settings = RunSettings(
        profile=profile, data=args.data, device=args.device,
        timeout=args.timeout or DEFAULT_TIMEOUT[profile],
        results=(args.results or default_results_path()).resolve(),
        data_dir=args.data_dir, weights=args.weights, seed=args.seed)
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
            console.print(f"[red]{benchmark}: {error}[/]")
            records[benchmark] += [skipped_record(i, benchmark, str(error), "") for i in impls]
            continue
        for impl in impls:
            ready = registry.readiness(impl, benchmark)
            if not ready.ready:
                records[benchmark].append(skipped_record(impl, benchmark, ready.reason, ready.fix))
                continue
            plan += [(benchmark, impl, repeat) for repeat in range(args.repeat)]

    interrupted = False
    with ctrl_c_as_request() as stop, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=console) as progress:
        for benchmark, impl, repeat in plan:
            if interrupted or stop.is_set():
                interrupted = True
                records[benchmark].append(interrupted_record(impl, benchmark, repeat))
                continue
            label = f"{benchmark} · {impl.name}" + (f" #{repeat + 1}" if args.repeat > 1 else "")
            total = _steps(benchmark, profile)
            task = progress.add_task(label, total=total, note="starting")
            try:
                record = run_one(impl, benchmark, repeat, settings,
                                 on_event=lambda e, t=task: _show_event(progress, t, e), stop=stop)
            except KeyboardInterrupt:
                interrupted = True
                records[benchmark].append(interrupted_record(impl, benchmark, repeat))
                progress.update(task, note="[yellow]interrupted")
                continue
            records[benchmark].append(record)
            note = "[green]done" if record["status"] == "ok" else f"[red]{record['status']}"
            progress.update(task, completed=total, note=note)

    for benchmark in args.benchmarks:
        if records[benchmark]:
            console.print(results_table(benchmark, records[benchmark], profile,
                                        kinds.get(benchmark, args.data)))
    console.print(f"Results appended to [bold]{settings.results}[/] "
                  f"(rebuild tables any time from that file).")
    if interrupted:
        console.print("[yellow]Interrupted by Ctrl-C: finished runs are kept above and in the "
                      "results file.[/]")
        return 130
    failed = [r for rs in records.values() for r in rs
              if r["status"] not in ("ok", "skipped")]
    return 1 if failed else 0


def _steps(benchmark: str, profile: str) -> int:
    """Progress-bar steps: each epoch and the evaluation, or the build and each timed pass."""
    record = benchmarks.get(benchmark)
    if record.training:
        return record.epochs(profile) + 1
    return 1 + record.config_for(profile).passes


def _show_event(progress: Progress, task: Any, event: dict[str, Any]) -> None:
    kind = event.get("event")
    if kind == "phase":
        progress.update(task, note=event["phase"])
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
        f"CPU: {env['cpu']} ({env['threads']} threads)   GPU: {gpu}   "
        f"driver: {env.get('gpu_driver') or '-'}\n"
        f"Python {env['python']}   commit {env.get('commit') or 'unknown'}   "
        f"timeout {settings.timeout:g} s per run\nresults: {settings.results}",
        title="Rosetta Stone benchmark harness", border_style="blue"))
