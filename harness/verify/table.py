"""`verify`'s table: each check of each implementation, its error and tolerance, and the first
layer that diverges."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from harness import benchmarks
from harness.report.live import labelled

STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "unsupported": "yellow",
                "skipped": "dim"}


def verify_table(benchmark: str, records: list[dict[str, Any]]) -> Table:
    table = Table(title=f"verify · {benchmarks.get(benchmark).title}", title_justify="left",
                  header_style="bold",
                  caption="rel err = ||impl - oracle|| / ||oracle|| (L2 over the tensor; a "
                          "loss: |difference| / |loss|); oracle: float64 NumPy; an update is "
                          "the change of the weights in one step, worst tensor shown",
                  caption_justify="left")
    for column in ("implementation", "check", "max abs err", "rel err", "tolerance", "result"):
        table.add_column(column, overflow="fold")
    for record in records:
        style = STATUS_STYLE.get(record["status"], "white")
        head = f"[cyan]{labelled(record)}[/]\n[{style}]{record['status']}[/]"
        if record["status"] == "skipped":
            table.add_row(head, "", "", "", "", f"[dim]{record['reason']}[/]")
            continue
        first = True
        for check in record["checks"]:
            table.add_row(head if first else "", check["name"], _num(check["max_abs"]),
                          _num(check["rel"]), _num(check["tolerance"], ".0e"), _result(check))
            first = False
        if record.get("first_divergence"):
            table.add_row("", "[red]first diverging layer[/]", "", "", "",
                          f"[red]{record['first_divergence']}[/]")
        if record.get("reason"):
            table.add_row(head if first else "", "[red]error[/]", "", "", "",
                          f"[red]{record['reason']}[/]")
        table.add_section()
    return table


def _num(value: float | None, fmt: str = ".2e") -> str:
    return "" if value is None else format(value, fmt)


def _result(check: dict[str, Any]) -> str:
    if check["passed"] is None:
        return f"[yellow]{check['detail'] or 'not made'}[/]"
    mark = "[green]pass[/]" if check["passed"] else "[red]FAIL[/]"
    return f"{mark} {check['detail']}".rstrip()
