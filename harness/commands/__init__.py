"""`python -m harness ...`: run the benchmarks, list implementations, manage data.

This process never imports a framework: every run is a child process (harness.run.runner).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn)
from rich.table import Table

from harness import registry
from harness.run import envs
from harness.julia import setup as julia_setup
from harness.report import groups as report
from harness.commands import show
from harness.verify import runner as verify
from harness.config import BENCHMARK_TITLES, BENCHMARKS, DATASET_OF, PROFILES
from harness.commands import data as data_commands
from harness.run.host import host_environment
from harness.run.results import default_results_path
from harness.run.runner import (RunSettings, ctrl_c_as_request, interrupted_record, run_one,
                            skipped_record)
from harness.report.live import results_table

console = Console()
if not console.is_terminal:  # a pipe or a file: keep failure reasons on one line
    console.width = max(console.width, 200)

DEFAULT_TIMEOUT = {"quick": 1200.0, "full": 4 * 3600.0}


def main(argv: list[str] | None = None) -> int:
    registry.load_plugins()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="The same CNN, GRU and ResNet-50 in every framework, timed fairly.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (*BENCHMARKS, "all"):
        title = BENCHMARK_TITLES.get(name, "every benchmark with every implementation installed")
        run = sub.add_parser(name, help=title, description=title)
        add_run_options(run)
        run.set_defaults(func=cmd_run, benchmarks=BENCHMARKS if name == "all" else (name,))
    listing = sub.add_parser("list", help="every implementation, per benchmark, and whether it "
                             "can run here")
    listing.set_defaults(func=cmd_list)
    data_commands.register(sub)
    verify.register(sub)
    report.register(sub)
    show.register(sub)
    julia_setup.register(sub, targets=setup_targets())
    return parser


def setup_targets() -> dict[str, tuple[str, Any]]:
    """`setup NAME` for each isolated Python environment, and `setup all`."""
    targets: dict[str, tuple[str, Any]] = {
        name: (f"create the isolated `{name}` environment (its own venv under envs/)",
               lambda args, n=name: envs.setup_environment(n, console, force=args.force))
        for name in envs.ENVIRONMENTS}

    def setup_all(args: argparse.Namespace) -> int:
        codes = [envs.setup_environment(n, console, force=args.force) for n in envs.ENVIRONMENTS]
        from harness.julia.bridge import julia_problem

        if julia_problem("knet") and julia_problem("flux"):
            console.print("[yellow]julia: skipped[/] - " + julia_problem("flux"))
        else:
            args.target = "julia"
            codes.append(args.func(args))
        return max(codes, default=0)

    targets["all"] = (f"every environment ({', '.join(envs.ENVIRONMENTS)}), then julia where "
                      "Julia is installed", setup_all)
    return targets


def add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--impl", action="append", metavar="NAME[,NAME]",
                     help="implementations to run (default: every one that is ready); "
                          "see `python -m harness list`")
    run.add_argument("--profile", choices=sorted(PROFILES),
                     help="full = SPEC exactly; quick = a few thousand samples, 1 epoch, a few "
                          "inference batches (default: full with a GPU, quick without)")
    run.add_argument("--data", choices=("auto", "real", "synthetic"), default="auto",
                     help="real data from datasets/, generated stand-ins, or real where present")
    run.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="runs of each implementation, each in a fresh process")
    run.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="per run (default: 1200 quick, 14400 full)")
    run.add_argument("--results", type=Path, default=None, metavar="PATH",
                     help=f"JSON-lines file results are appended to "
                          f"(default: {default_results_path()}; env HARNESS_RESULTS)")
    run.add_argument("--data-dir", default=None, metavar="DIR",
                     help="where the HDF5 data live (default: datasets/; env HARNESS_DATA_DIR)")
    run.add_argument("--weights", default=None, metavar="FILE",
                     help="canonical ResNet-50 weights (HDF5) for inference; default: random")
    run.add_argument("--seed", type=int, default=0)


def implementation_names(values: list[str] | None) -> list[str]:
    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    for name in names:
        registry.by_name(name)  # KeyError with the known names
    return names


def choose_profile(requested: str | None) -> str:
    """Never start a multi-hour CPU run unasked: without a GPU the default is `quick`."""
    if requested:
        return requested
    if registry.gpu_present():
        return "full"
    quick = PROFILES["quick"]
    console.print(Panel(
        f"No NVIDIA GPU found, so this runs the [bold]quick[/] profile "
        f"({quick.n_train['cnn']:,} training samples, {quick.epochs['cnn']} epoch, "
        f"{quick.inference.timed_batches} inference batches): a smoke test, not the SPEC "
        f"benchmark.\nAdd [bold]--profile full[/] to run SPEC exactly (hours on a CPU).",
        title="profile: quick", border_style="yellow"))
    return "quick"


def data_kind(benchmark: str, settings: RunSettings) -> str:
    """Which data a benchmark will read; makes missing synthetic data once, up front."""
    if benchmark == "inference":
        return "synthetic"
    from harness.data.store import load_dataset  # NumPy and h5py only

    return load_dataset(DATASET_OF[benchmark], kind=settings.data, data_dir=settings.data_dir,
                        n_train=1, n_test=1).kind


def cmd_run(args: argparse.Namespace) -> int:
    from harness.data.store import DataError

    try:
        names = implementation_names(args.impl)
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
        for position, (benchmark, impl, repeat) in enumerate(plan):
            if interrupted or stop.is_set():
                interrupted = True
                records[benchmark].append(interrupted_record(impl, benchmark, repeat))
                continue
            label = f"{benchmark} · {impl.name}" + (f" #{repeat + 1}" if args.repeat > 1 else "")
            total = (1 if benchmark == "inference" else 0) + _steps(benchmark, profile)
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
    p = PROFILES[profile]
    if benchmark == "inference":
        return p.inference.passes
    from harness.config import config_for

    return (p.epochs[benchmark] or config_for(benchmark).epochs) + 1  # epochs + evaluation


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


def interpreter_label(impl: registry.Implementation) -> str:
    """Which Python starts this row's child processes."""
    if impl.environment:
        return f"envs/{impl.environment} venv"
    if impl.language == "julia":
        return "this Python + juliacall"
    return "this Python"


def cmd_list(args: argparse.Namespace) -> int:
    gpu = registry.gpu_present()
    for benchmark in BENCHMARKS:
        table = Table(title=BENCHMARK_TITLES[benchmark], title_justify="left",
                      header_style="bold")
        for column in ("implementation", "framework", "language", "runs in", "status",
                       "to fix"):
            table.add_column(column, overflow="fold")
        for impl in registry.IMPLEMENTATIONS:
            if benchmark not in impl.entry_points:
                continue
            ready = registry.readiness(impl, benchmark, gpu=gpu)
            status = "[green]ready[/]" if ready.ready else f"[red]{ready.reason}[/]"
            table.add_row(impl.name, impl.framework, impl.language, interpreter_label(impl),
                          status, ready.fix)
        console.print(table)
    console.print(f"GPU: {'yes' if gpu else 'none found'} · each row runs in its own process; "
                  f"`python -m harness all` runs every ready row.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
