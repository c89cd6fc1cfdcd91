"""`python -m harness verify`: each implementation against the float64 NumPy oracle
(harness.verify.runner says what is checked; harness/verify/oracle/README.md what it proves)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from harness.commands import terminal
from rich.markup import escape

from harness import benchmarks, precision
from harness.commands import options
from harness.report.live import labelled
from harness.run.results import writable_problem
from harness.run.runner import StopRequest, stop_signals_as_request
from harness.verify.runner import Settings, default_verify_results, verify
from harness.verify.table import STATUS_STYLE, verify_table


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `verify` to the harness's command line."""
    parser = subparsers.add_parser(
        "verify", help="check every implementation against the NumPy oracle (docs/benchmarks.md §9-10)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_impl(parser, "verify")
    options.add_benchmark_choice(parser, "--benchmark", action="append",
                                 help="benchmarks to verify (default: every one)")
    options.add_device(parser)
    options.add_precision(parser)
    options.add_seed(parser, "seed of the canonical weights and of the batch")
    parser.add_argument("--image-size", type=options.positive_int, default=224,
                        help="ResNet-50 input size (the network is fully convolutional up to "
                             "the global pool; smaller is quicker)")
    parser.add_argument("--weights", metavar="FILE",
                        help="canonical ResNet-50 weights (HDF5; see `data weights`) instead of "
                             "the seeded ones")
    options.add_timeout(parser, "per implementation and benchmark, above 0", default=900.0)
    options.results_option(parser, "verify.jsonl next to the benchmark results")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when an implementation lacks a verify hook")
    parser.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    console = terminal.console
    try:
        names = options.implementation_names(args.impl)
    except KeyError as error:
        console.print(f"[red]{escape(error.args[0])}[/]", soft_wrap=True)
        return 2
    try:
        precisions = precision.parse(args.precision)
    except ValueError as error:
        console.print(f"[red]--precision: {escape(str(error))}[/]", soft_wrap=True)
        return 2
    chosen = list(dict.fromkeys(args.benchmark or benchmarks.names()))
    settings = Settings(device=args.device, seed=args.seed, timeout=args.timeout,
                        results=(args.results or default_verify_results()).resolve(),
                        image_size=args.image_size, weights=args.weights,
                        precisions=precisions)
    problem = writable_problem(settings.results)
    if problem:  # before anything runs
        console.print(f"[red]{escape(problem)}[/]", soft_wrap=True)
        return 2

    def show(record: dict[str, Any]) -> None:
        style = STATUS_STYLE.get(record["status"], "white")
        console.print(f"verify {escape(record['benchmark'])} · {escape(labelled(record))}: "
                      f"[{style}]{escape(record['status'])}[/]")

    unsaved = []

    def keep(record: dict[str, Any], reason: str) -> None:
        unsaved.append(record)
        console.print(f"[red]{escape(reason)}; the record, so that it is not lost (append it "
                      f"to a verify results file to keep it):[/]", soft_wrap=True)
        console.print(json.dumps(record, default=str), markup=False, highlight=False,
                      soft_wrap=True)

    stop = StopRequest()
    try:
        with stop_signals_as_request() as stop:
            records = verify(names, chosen, settings, on_record=show, stop=stop,
                             on_unsaved=keep)
        return summary(console, records, chosen, settings, stop, len(unsaved), args.strict)
    except OSError:  # the terminal is gone (a closed session's SIGHUP): records are kept
        if not stop.is_set():
            raise
        return stop.exit_code


def summary(console: Console, records: list[dict[str, Any]], chosen: list[str],
            settings: Settings, stop: StopRequest, unsaved: int, strict: bool) -> int:
    """The tables and closing lines, and the exit code: 0 only when something was verified and
    nothing failed, was lost or was interrupted."""
    for benchmark in chosen:
        rows = [r for r in records if r["benchmark"] == benchmark]
        if rows:
            console.print(verify_table(benchmark, rows))
    path = escape(str(settings.results))
    if unsaved:
        console.print(f"[red]{unsaved} verify record(s) could not be appended to {path}: "
                      f"they are printed above as JSON lines.[/]", soft_wrap=True)
    if len([r for r in records if r["status"] != "skipped"]) > unsaved:
        console.print(f"Verify records appended to [bold]{path}[/]; what verify proves "
                      f"and what it does not: harness/verify/oracle/README.md", soft_wrap=True)
    if stop.is_set():
        console.print(f"[yellow]Interrupted by {stop.cause}: finished checks are kept above "
                      f"and in the verify results file.[/]")
        return stop.exit_code
    bad = {"failed", "error"} | ({"unsupported"} if strict else set())
    if unsaved or any(r["status"] in bad for r in records):
        return 1
    if all(r["status"] == "skipped" for r in records):
        console.print("[red]Nothing was verified: " + ("every selected implementation was "
                      "skipped (reasons above)" if records else "no selected implementation "
                      "implements the benchmarks chosen") + ".[/]")
        return 1
    return 0
