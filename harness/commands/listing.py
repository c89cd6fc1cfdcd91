"""`python -m harness list`: every row per benchmark, ready or exactly why not, and the fix;
the versions installed against the range the project supports (harness.versions)."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from harness.commands.terminal import console
from harness import benchmarks, registry, versions



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


def status_cells(impl: registry.Row, benchmark: str, gpu: bool,
                 found: versions.RowVersions) -> tuple[str, str]:
    """The row's status (rich markup, every computed text escaped) and its fix."""
    ready = registry.readiness(impl, benchmark, gpu=gpu)
    if not ready.ready:
        return f"[red]{escape(ready.reason)}[/]", ready.fix
    status = "[green]ready[/]"
    marks = [ready.note] if ready.note else []  # the row's own caveat (Row.notice)
    marks += found.notes
    if found.on_cpu:
        marks.insert(0, f"runs on the CPU although this machine has a GPU: {found.on_cpu}")
    if marks:
        status += "".join(f"\n[yellow]{escape(mark)}[/]" for mark in marks)
    return status, found.cpu_fix


def cmd_list(args: argparse.Namespace) -> int:
    gpu = registry.gpu_present()
    found = {impl.name: versions.row_versions(impl, gpu) for impl in registry.ROWS}
    for benchmark in benchmarks.names():
        table = Table(title=escape(benchmarks.get(benchmark).title), title_justify="left",
                      header_style="bold")
        for column in ("implementation", "framework", "language", "runs in", "installed",
                       "supported", "status", "to fix"):
            table.add_column(column, overflow="fold")
        for impl in registry.ROWS:
            if benchmark not in impl.entry_points:
                continue
            status, fix = status_cells(impl, benchmark, gpu, found[impl.name])
            row = found[impl.name]
            table.add_row(*map(escape, (impl.name, impl.framework, impl.language,
                                        interpreter_label(impl), row.installed, row.supported)),
                          status, escape(fix))
        console.print(table)
    tested = versions.CI_CONSTRAINTS
    if tested.is_relative_to(versions.REPO_ROOT):
        tested = tested.relative_to(versions.REPO_ROOT)
    console.print(f"GPU: {'yes' if gpu else 'none found'} · each row runs in its own process; "
                  f"`python -m harness all` runs every ready row. supported: the range "
                  f"pyproject.toml's extras install; tested: the versions in {escape(str(tested))}.")
    return 0
