"""`python -m harness list`: which rows can run which benchmarks here. By default one matrix
(harness.commands.list_matrix) with each distinct reason and its fix once below it; `--verbose`,
or rows named, gives each benchmark's table: every row ready or exactly why not, the fix, and
the versions installed against the range the project supports (harness.versions)."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from harness import benchmarks, registry, versions
from harness.commands import options
from harness.commands.list_matrix import caveats, interpreter_label, matrix, precision_lines
from harness.commands.terminal import console


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("list", help="every implementation, per benchmark, and whether it "
                            "can run here")
    parser.add_argument("rows", nargs="*", metavar="ROW",
                        help="show these rows in detail, as --verbose does")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="a table per benchmark: each row's versions, status and fix")
    parser.set_defaults(func=cmd_list)


def status_cells(impl: registry.Row, benchmark: str, gpu: bool,
                 found: versions.RowVersions) -> tuple[str, str]:
    """The row's status (rich markup, every computed text escaped) and its fix."""
    ready = registry.readiness(impl, benchmark, gpu=gpu)
    if not ready.ready:
        return f"[red]{escape(ready.reason)}[/]", ready.fix
    marks = caveats(ready, found)
    status = "[green]ready[/]" + "".join(f"\n[yellow]{escape(mark)}[/]" for mark, _ in marks)
    return status, found.cpu_fix


def print_tables(rows: list[registry.Row], gpu: bool,
                 found: dict[str, versions.RowVersions]) -> None:
    """A table per benchmark that one of `rows` implements."""
    for benchmark in benchmarks.names():
        implementing = [impl for impl in rows if benchmark in impl.entry_points]
        if not implementing:
            continue
        table = Table(title=escape(benchmarks.get(benchmark).title), title_justify="left",
                      header_style="bold")
        for column in ("implementation", "framework", "language", "runs in", "installed",
                       "supported", "status", "to fix"):
            table.add_column(column, overflow="fold")
        for impl in implementing:
            status, fix = status_cells(impl, benchmark, gpu, found[impl.name])
            row = found[impl.name]
            table.add_row(*map(escape, (impl.name, impl.framework, impl.language,
                                        interpreter_label(impl), row.installed, row.supported)),
                          status, escape(fix))
        console.print(table)


def cmd_list(args: argparse.Namespace) -> int:
    try:
        names = options.implementation_names(args.rows)
    except KeyError as error:
        console.print(f"[red]{escape(error.args[0])}[/]", soft_wrap=True)
        return 2
    rows = [registry.by_name(name) for name in dict.fromkeys(names)] or list(registry.ROWS)
    gpu = registry.gpu_present()
    found = {impl.name: versions.row_versions(impl, gpu) for impl in rows}
    if args.verbose or names:
        print_tables(rows, gpu, found)
        for line in precision_lines(rows):
            console.print(line)
    else:
        for part in matrix(rows, gpu, found):
            console.print(part)
    tested = versions.CI_CONSTRAINTS
    if tested.is_relative_to(versions.REPO_ROOT):
        tested = tested.relative_to(versions.REPO_ROOT)
    console.print(f"GPU: {'yes' if gpu else 'none found'} · each row runs in its own process; "
                  f"`python -m harness all` runs every ready row. supported: the range "
                  f"pyproject.toml's extras install; tested: the versions in {escape(str(tested))}.")
    return 0
