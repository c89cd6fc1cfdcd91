"""`list` and `show` over every registered row and every benchmark it implements: each row's
status (ready, or its reason and fix) in its benchmark's table, and every section of the
benchmark in the row's code."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from harness import benchmarks, registry
from harness import commands as cli
from harness.commands import listing
from tests.helpers import run_show
from tests.list_output import row_text

PAIRS = [(row.name, benchmark) for row in registry.ROWS for benchmark in benchmarks.names()
         if benchmark in row.entry_points]


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def tables() -> dict[str, str]:
    """`list`'s output (no GPU), cut into each benchmark's table."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "gpu_present", lambda: False)
        buffer = io.StringIO()
        console = Console(file=buffer, width=400, color_system=None)
        patch.setattr(listing, "console", console)
        assert cli.main(["list"]) == 0
    out = buffer.getvalue()
    titles = [benchmarks.get(name).title for name in benchmarks.names()]
    starts = [out.index(title) for title in titles]
    return {name: out[start:end] for name, start, end
            in zip(benchmarks.names(), starts, [*starts[1:], len(out)])}


@pytest.mark.parametrize("name, benchmark", PAIRS, ids=[f"{n}-{b}" for n, b in PAIRS])
def test_list_shows_each_rows_status_reason_and_fix(tables, name, benchmark):
    """Breakage caught: a row dropped from the table, or a not-ready row shown without its
    reason or fix (the old test only looked for "pytorch" in the output)."""
    ready = registry.readiness(registry.by_name(name), benchmark, gpu=False)
    text = row_text(tables[benchmark], name)
    assert text.startswith(f"{name} | "), text  # (a reason may hold " | " itself)
    if ready.ready:
        assert " | ready" in text, text
    else:
        assert f" | {words(ready.reason)}" in text, text
        assert text.endswith(f" | {words(ready.fix)}" if ready.fix else " | "), text


SHOWN = [(name, benchmark) for name, benchmark in PAIRS
         if not registry.by_name(name).unavailable]


@pytest.mark.parametrize("name, benchmark", SHOWN, ids=[f"{n}-{b}" for n, b in SHOWN])
def test_show_finds_every_section_of_every_row(name, benchmark):
    """Breakage caught: a row whose file lost a `# == section ==` marker (its code would be shown
    under the wrong heading, or as missing); the old test checked PyTorch's sections only."""
    code, text = run_show(benchmark, name, "pytorch", "--stacked", width=240)
    assert code == 0, text
    assert "(no `# ==" not in text, text[:3000]
    rules = [words(line.strip("─ ")) for line in text.splitlines() if line.startswith("──")]
    assert set(benchmarks.get(benchmark).sections) <= set(rules), rules
