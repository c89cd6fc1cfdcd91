"""`list` and `show` over every registered row and every benchmark it implements: the matrix
(each row once, a cell per benchmark, each distinct reason once below it, short enough for a
terminal), each row's status (ready, or its reason and fix) in `--verbose`'s benchmark tables,
and every section of the benchmark in the row's code."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from harness import benchmarks, registry
from harness import commands as cli
from harness.commands import list_matrix, listing
from harness.run import envs
from tests.helpers import run_show
from tests.list_output import footnotes, matrix, row_text, words

PAIRS = [(row.name, benchmark) for row in registry.ROWS for benchmark in benchmarks.names()
         if benchmark in row.entry_points]
ALL_PAIRS = [(row.name, benchmark) for row in registry.ROWS for benchmark in benchmarks.names()]
WIDTH = 120


def list_output(*argv: str, width: int) -> str:
    """`list` with `argv`, no GPU, printed `width` columns wide without colour."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "gpu_present", lambda: False)
        buffer = io.StringIO()
        patch.setattr(listing, "console", Console(file=buffer, width=width, color_system=None))
        assert cli.main(["list", *argv]) == 0
    return buffer.getvalue()


@pytest.fixture(scope="module")
def no_envs(tmp_path_factory) -> str:
    """An empty environments' folder: MXNet and Chainer then need `setup`, as on a fresh
    checkout."""
    return str(tmp_path_factory.mktemp("no-envs"))


@pytest.fixture(scope="module")
def listed(no_envs) -> str:
    """The default `list` at 120 columns with no isolated environment set up."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(envs.ENVS_DIR_VARIABLE, no_envs)
        return list_output(width=WIDTH)


@pytest.fixture(scope="module")
def cells(listed) -> dict[str, dict[str, str]]:
    return dict(matrix(listed)[1])


def readiness_without_envs(name: str, benchmark: str, no_envs: str) -> registry.Readiness:
    """What the matrix was made from: the row's readiness with the environments' folder empty."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(envs.ENVS_DIR_VARIABLE, no_envs)
        return registry.readiness(registry.by_name(name), benchmark, gpu=False)


def test_the_matrix_has_each_row_once_and_a_column_per_benchmark(listed):
    headers, rows = matrix(listed)
    assert headers == ["implementation", "framework", "runs in", "version",
                       *map(list_matrix.header, benchmarks.names())]
    assert [name for name, _ in rows] == [row.name for row in registry.ROWS]


@pytest.mark.parametrize("name, benchmark", ALL_PAIRS, ids=[f"{n}-{b}" for n, b in ALL_PAIRS])
def test_each_cell_is_ready_not_implemented_or_its_reason_and_fix_below(
        listed, cells, no_envs, name, benchmark):
    """Breakage caught: a row dropped from the matrix, or a not-ready cell whose footnote does
    not hold its reason and fix."""
    cell = cells[name][list_matrix.header(benchmark)]
    if benchmark not in registry.by_name(name).entry_points:
        assert cell == "-"
        return
    ready = readiness_without_envs(name, benchmark, no_envs)
    if ready.ready:
        assert cell.startswith("✓"), cell
        return
    assert cell.startswith("[") and cell.endswith("]"), cell
    note = footnotes(listed)[int(cell[1:-1])]
    assert note.startswith(words(ready.reason)), note
    assert words(ready.fix) in note


def test_a_benchmark_a_row_lacks_is_marked_not_implemented(cells):
    assert cells["mxnet-module"][list_matrix.header("transformer")] == "-"


def test_each_distinct_reason_is_printed_once_and_rows_sharing_it_share_its_mark(
        listed, cells, no_envs):
    """The reason four Julia rows (or both MXNet rows) share is printed once, not per row and
    per benchmark."""
    reasons = {}
    for name, benchmark in PAIRS:
        ready = readiness_without_envs(name, benchmark, no_envs)
        if not ready.ready:
            reasons.setdefault(ready.reason, set()).add(cells[name][list_matrix.header(benchmark)])
    assert reasons
    text = words(listed)
    for reason, marks in reasons.items():
        assert text.count(words(reason)) == 1, reason
        assert len(marks) == 1, (reason, marks)
    assert len(footnotes(listed)) == len(reasons)
    assert cells["mxnet-gluon"]["cnn"] == cells["mxnet-module"]["cnn"]
    assert cells["knet"] == {**cells["flux"], "implementation": "knet", "framework": "Knet.jl"}


def test_the_matrix_fits_a_terminal_without_a_word_cut(listed, no_envs):
    """At 120 columns, with MXNet and Chainer not set up: under 60 lines, none wider than the
    terminal, and every word of every reason, fix and row whole (rich wraps between words; a
    folded one would show as two)."""
    lines = listed.splitlines()
    assert len(lines) < 60, listed
    assert max(map(len, lines)) <= WIDTH
    printed = set(listed.split())
    for name, benchmark in PAIRS:
        ready = readiness_without_envs(name, benchmark, no_envs)
        assert set(f"{ready.reason} {ready.fix}".split()) <= printed, ready
    for row in registry.ROWS:
        shown = f"{row.name} {row.framework} {list_matrix.interpreter_label(row)}"
        assert set(shown.split()) <= printed, shown
    assert "GPU: none found" in listed and "each row runs in its own process" in words(listed)


@pytest.fixture(scope="module")
def tables() -> dict[str, str]:
    """`list --verbose`'s output (no GPU), cut into each benchmark's table."""
    out = list_output("--verbose", width=400)
    titles = [benchmarks.get(name).title for name in benchmarks.names()]
    starts = [out.index(title) for title in titles]
    return {name: out[start:end] for name, start, end
            in zip(benchmarks.names(), starts, [*starts[1:], len(out)])}


@pytest.mark.slow
@pytest.mark.parametrize("name, benchmark", PAIRS, ids=[f"{n}-{b}" for n, b in PAIRS])
def test_list_verbose_shows_each_rows_status_reason_and_fix(tables, name, benchmark):
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


@pytest.mark.slow
@pytest.mark.parametrize("name, benchmark", SHOWN, ids=[f"{n}-{b}" for n, b in SHOWN])
def test_show_finds_every_section_of_every_row(name, benchmark):
    """Breakage caught: a row whose file lost a `# == section ==` marker (its code would be shown
    under the wrong heading, or as missing); the old test checked PyTorch's sections only."""
    code, text = run_show(benchmark, name, "pytorch", "--stacked", width=240)
    assert code == 0, text
    assert "(no `# ==" not in text, text[:3000]
    rules = [words(line.strip("─ ")) for line in text.splitlines() if line.startswith("──")]
    assert set(benchmarks.get(benchmark).sections) <= set(rules), rules
