"""`python -m harness list`: every row per benchmark, ready or exactly why not, and the fix."""

from __future__ import annotations

import argparse

from rich.table import Table

from harness.commands.terminal import console
from harness import benchmarks, registry



def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("list", help="every implementation, per benchmark, and whether it "
                            "can run here")
    parser.set_defaults(func=cmd_list)


def interpreter_label(impl: registry.Row) -> str:
    """Which Python starts this row's child processes."""
    if impl.environment:
        return f"envs/{impl.environment} venv"
    if impl.language == "julia":
        return "this Python + juliacall"
    return "this Python"


def cmd_list(args: argparse.Namespace) -> int:
    gpu = registry.gpu_present()
    for benchmark in benchmarks.names():
        table = Table(title=benchmarks.get(benchmark).title, title_justify="left",
                      header_style="bold")
        for column in ("implementation", "framework", "language", "runs in", "status",
                       "to fix"):
            table.add_column(column, overflow="fold")
        for impl in registry.ROWS:
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
