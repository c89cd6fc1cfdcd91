"""`python -m harness verify`: each implementation against the float64 NumPy oracle
(harness.verify.runner says what is checked; harness/verify/oracle/README.md what it proves)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from harness import benchmarks
from harness.commands import options
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
    options.add_seed(parser, "seed of the canonical weights and of the batch")
    parser.add_argument("--image-size", type=int, default=224,
                        help="ResNet-50 input size (the network is fully convolutional up to "
                             "the global pool; smaller is quicker)")
    parser.add_argument("--weights", metavar="FILE",
                        help="canonical ResNet-50 weights (HDF5; see `data weights`) instead of "
                             "the seeded ones")
    parser.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS",
                        help="per implementation and benchmark")
    options.results_option(parser, "verify.jsonl next to the benchmark results")
    parser.add_argument("--strict", action="store_true",
                        help="also fail when an implementation lacks a verify hook")
    parser.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    console = Console()
    try:
        names = options.implementation_names(args.impl)
    except KeyError as error:
        console.print(f"[red]{error.args[0]}[/]")
        return 2
    chosen = list(dict.fromkeys(args.benchmark or benchmarks.names()))
    settings = Settings(device=args.device, seed=args.seed, timeout=args.timeout,
                        results=(args.results or default_verify_results()).resolve(),
                        image_size=args.image_size, weights=args.weights)

    def show(record: dict[str, Any]) -> None:
        style = STATUS_STYLE.get(record["status"], "white")
        console.print(f"verify {record['benchmark']} · {record['impl']}: "
                      f"[{style}]{record['status']}[/]")

    records = verify(names, chosen, settings, on_record=show)
    for benchmark in chosen:
        rows = [r for r in records if r["benchmark"] == benchmark]
        if rows:
            console.print(verify_table(benchmark, rows))
    console.print(f"Verify records appended to [bold]{settings.results}[/]; what verify proves "
                  f"and what it does not: harness/verify/oracle/README.md")
    bad = {"failed", "error"} | ({"unsupported"} if args.strict else set())
    return 1 if any(r["status"] in bad for r in records) else 0
