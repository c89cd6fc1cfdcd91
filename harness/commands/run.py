"""`python -m harness BENCHMARK|all` (cnn, rnn, transformer, inference, ...): run benchmarks,
one child process per (implementation, benchmark, repeat) (harness.run.runner), then print the
results table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from harness import benchmarks, precision, registry
from harness.commands import options
from harness.commands.terminal import console
from harness.config import PROCESSES, PROFILES, TIMEOUTS
from harness.report.groups import record_problem
from harness.report.overlap import overlap_warning, overlapping_runs
from harness.report.live import legend, results_table
from harness.run.host import cpu_flags, host_environment
from harness.run.results import default_results_path, scan_results, writable_problem
from harness.commands import slurm_options
from harness.commands.progress import RunDisplay
from harness.run import local, processes
from harness.run.executor import PlannedRun
from harness.run.runner import RunSettings, StopRequest, skipped_record
from harness.run.slurm.executor import ClusterProblem, SlurmExecutor


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
                     help="; ".join(f"{name} = {what}" for name, what in PROFILES.items())
                     + " (docs/benchmarks.md §7; default: full with a GPU, quick without)")
    run.add_argument("--data", choices=("auto", "real", "synthetic"), default="auto",
                     help="real data from datasets/, generated stand-ins, or real where present")
    options.add_device(run)
    options.add_precision(run)
    run.add_argument("--repeat", type=options.positive_int, default=None, metavar="N",
                     help="runs of each implementation (at least 1), each in a fresh process, "
                          "interleaved (default: quick 2, plus a third where the two disagree "
                          "beyond their spreads; full 1)")
    options.add_timeout(run, "per run, above 0 (default: " + ", ".join(
        f"{seconds:g} {profile}" for profile, seconds in TIMEOUTS.items()) + ")")
    options.results_option(run, f"{default_results_path()}; env HARNESS_RESULTS")
    options.add_data_dir(run)
    run.add_argument("--weights", default=None, metavar="FILE",
                     help="canonical ResNet-50 weights (HDF5) for inference; default: random")
    options.add_seed(run)
    slurm_options.add(run)


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
    from harness.data.store import DataError  # NumPy and h5py only

    try:
        names = options.implementation_names(args.impl)
        precisions = precision.parse(args.precision)
    except KeyError as error:
        console.print(f"[red]{escape(error.args[0])}[/]", soft_wrap=True)
        return 2
    except ValueError as error:
        console.print(f"[red]--precision: {escape(str(error))}[/]", soft_wrap=True)
        return 2
    profile = choose_profile(args.profile)
    settings = RunSettings(
        profile=profile, data=args.data, device=args.device,
        timeout=args.timeout if args.timeout is not None else TIMEOUTS[profile],
        results=(args.results or default_results_path()).resolve(),
        data_dir=args.data_dir, weights=args.weights, seed=args.seed)
    # The path as given, so that the message names what the user typed (a link, say).
    problem = writable_problem(args.results or default_results_path())
    if problem:  # before anything runs: a finished run must have somewhere to go
        console.print(f"[red]{escape(problem)}[/]", soft_wrap=True)
        return 2
    try:
        cluster = slurm_options.executor_for(args, settings, say=_say)
    except slurm_options.OptionProblem as error:
        console.print(f"[red]{escape(str(error))}[/]", soft_wrap=True)
        return 2
    print_header(settings, args.benchmarks, cluster)
    if precision.BF16_MIXED in precisions and cluster is None and (
            settings.device == "cpu" or not registry.gpu_present()):
        warning = precision.cpu_bf16_warning(cpu_flags())
        if warning:
            console.print(f"[yellow]warning: {escape(warning)}[/]", soft_wrap=True)

    records: dict[str, list[dict[str, Any]]] = {b: [] for b in args.benchmarks}
    kinds: dict[str, str] = {}
    unreadable: dict[str, str] = {}  # benchmark -> why its data cannot be used
    candidates: list[tuple[str, Any]] = []
    for benchmark in args.benchmarks:
        impls = registry.select(names, benchmark)
        if not impls:
            continue
        try:
            kinds[benchmark] = data_kind(benchmark, settings)
        except DataError as error:
            console.print(f"[red]{escape(f'{benchmark}: {error}')}[/]")
            unreadable[benchmark] = str(error)
            records[benchmark] += [skipped_record(i, benchmark, str(error), "") for i in impls]
            continue
        for impl in impls:
            for asked in precisions:
                row, why = precision.at_precision(impl, asked)
                if why:
                    records[benchmark].append(skipped_record(row, benchmark, why, "", in_list=False))
                else:
                    candidates.append((benchmark, row))
    repeats = args.repeat or PROCESSES[profile]
    try:
        plan = (local_plan(candidates, records, repeats) if cluster is None else
                cluster_plan(cluster, candidates, records, repeats))
    except ClusterProblem as error:
        console.print(f"[red]{escape(str(error))}[/]", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted while checking the nodes; nothing ran.[/]")
        return 130

    display = RunDisplay(profile, repeats,
                         show_partition=cluster is not None and len(cluster.partitions) > 1)
    outcome = None
    try:
        with display:
            if cluster is not None:
                outcome = cluster.run_plan(plan, display, records)
            else:
                # the default count: one more process where a row's processes disagree
                outcome = local.run_settled(plan, settings, display, records,
                                            settle=not args.repeat and repeats >= 2)
    except ClusterProblem as error:  # a submission refused: the jobs already in are cancelled
        console.print(f"[red]{escape(str(error))}[/]", soft_wrap=True)
        return 2
    except OSError:  # the terminal is gone (a closed session's SIGHUP): records are kept
        if outcome is None or outcome.stopped_by is None:
            raise
    stopped_by, unsaved = outcome.stopped_by, outcome.unsaved

    try:
        for benchmark in args.benchmarks:
            if benchmark in unreadable:
                console.print(data_not_run(benchmark, records[benchmark],
                                           unreadable[benchmark]))
            elif records[benchmark]:
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


def data_not_run(benchmark: str, records: list[dict[str, Any]], reason: str) -> Text:
    """A benchmark whose data cannot be used: its rows were never tried, so the line names the
    data and its fix, not the rows' installation (as the table's not-run line would)."""
    impls = ", ".join(dict.fromkeys(r["impl"] for r in records))
    return Text.assemble((f"{benchmarks.get(benchmark).title}\n", "bold"),
                         (f"{len(records)} not run: {impls} - the data cannot be used: {reason}",
                          "yellow"))


def local_plan(candidates: list[tuple[str, Any]], records: dict[str, list[dict[str, Any]]],
               repeats: int) -> list[PlannedRun]:
    """Every (benchmark, row) ready here, `repeats` times; a row not ready gets a skipped row."""
    return ready_runs(candidates, records, repeats, registry.readiness)


def cluster_plan(cluster: SlurmExecutor, candidates: list[tuple[str, Any]],
                 records: dict[str, list[dict[str, Any]]], repeats: int) -> list[PlannedRun]:
    """As `local_plan`, but readiness as a node of each partition sees it (not this login
    machine, where the frameworks or the GPU may be absent): every run on every partition."""
    if not candidates:
        return []
    views = cluster.check([(impl.name, benchmark) for benchmark, impl in candidates])
    plan = []
    for partition, view in views.items():
        console.print(f"partition {escape(partition)}: node {escape(str(view.node))}"
                      + (f" - [red]{escape(view.problem)}[/]" if view.problem else ""),
                      soft_wrap=True)
        plan += ready_runs(candidates, records, repeats, view.readiness, partition,
                           where=f"on partition {partition}: " if len(views) > 1 else "")
    return plan


def ready_runs(candidates: list[tuple[str, Any]], records: dict[str, list[dict[str, Any]]],
               repeats: int, readiness: Callable[[Any, str], registry.Readiness],
               partition: str | None = None, where: str = "") -> list[PlannedRun]:
    runnable = []
    for benchmark, impl in candidates:
        ready = readiness(impl, benchmark)
        if not ready.ready:
            records[benchmark].append(skipped_record(impl, benchmark, where + ready.reason,
                                                     ready.fix))
            continue
        runnable.append((benchmark, impl))
    return processes.rounds(runnable, repeats, partition)


def _say(text: str) -> None:
    console.print(escape(text), soft_wrap=True)


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
    stored = [record for _, record in found if record_problem(record) is None]
    return overlap_warning(overlapping_runs(stored, among=ours))


def print_header(settings: RunSettings, benchmarks: tuple[str, ...],
                 cluster: SlurmExecutor | None = None) -> None:
    env = host_environment()
    gpu = env.get("gpu") or "none found"
    where = (f"CPU: {env['cpu']} ({env['threads']} threads)   GPU: {gpu}   "
             f"driver: {env.get('gpu_driver') or '-'}\n" if cluster is None else
             f"Slurm: partition {', '.join(cluster.partitions)}, one job per run "
             f"({cluster.slurm.source}); jobs and their output in {cluster.folder}\n")
    console.print(Panel(
        f"benchmarks: {', '.join(benchmarks)}   profile: [bold]{settings.profile}[/]   "
        f"data: {settings.data}   device: {settings.device}\n"
        + escape(where +
                 f"Python {env['python']}   commit {env.get('commit') or 'unknown'}   "
                 f"timeout {settings.timeout:g} s per run\nresults: {settings.results}"),
        title="Rosetta Stone benchmark harness", border_style="blue"))
