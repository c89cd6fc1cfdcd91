"""The site's front page: one section per benchmark, device, profile and data kind, as the
terminal report groups them, the answer first.

Each section holds the ranked table (the very cells of the terminal report and the Markdown
export: harness.report.render.display_rows, so ranking, ties, spreads and the metrics' labels
and formats have one home), its charts (harness.report.site.charts), the machine and the
software it ran on, the footnotes the terminal prints, and the command that reproduces each row.
"""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

from harness import registry
from harness.report import render
from harness.report.groups import Comparison, Group, Loaded, Section
from harness.report.ranking import TIE_MARK
from harness.report.site import charts
from harness.report.site.code import code_file
from harness.report.site.document import document

HOW_TO_READ = (
    "Each framework trained (or ran) the same model on the same data, timed with the device "
    "synchronised around every clock read. Rows are ranked by the first figure: the median over "
    "every timed window (training) or pass (inference) after compile and warm-up; min-max is "
    f"its spread. {TIE_MARK} marks a row whose spread overlaps the row above it: their order is "
    "noise, not a result. x fastest: how many times slower than the first row. Click a column "
    "heading to sort; click an implementation to read its code beside the fastest one's.")


def section_id(section: Section) -> str:
    from harness.report.plots import file_stem  # the PNG plots' names: one naming of sections

    return file_stem(section)


def index_page(loaded: Loaded, sections: list[Section], *,
               comparisons: Sequence[Comparison] | None = None, baseline_name: str = "",
               warnings: Sequence[str] = (), code_pages: frozenset[str] = frozenset()) -> str:
    """The whole front page. `code_pages`: the benchmarks whose code view was written."""
    sources = ", ".join(str(p) for p in loaded.sources)
    runs = sum(len(g.runs) for s in sections for g in s.groups)
    parts = ['<header class="top"><h1>Deep-learning frameworks, side by side</h1>',
             f'<p class="sub">{runs} runs from {escape(sources)}'
             f'{" compared with " + escape(baseline_name) if baseline_name else ""}'
             f'{_commits(loaded.records)}</p>',
             f'<p class="how">{escape(HOW_TO_READ)}</p></header>']
    if warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
        parts.append(f'<aside class="warnings" role="alert"><strong>Not everything in the '
                     f"results could be read; the rest is shown.</strong><ul>{items}</ul></aside>")
    parts.append(_contents(sections))
    by_row = _comparisons_by_row(comparisons or [])
    for section in sections:
        parts.append(_section(section, by_row if comparisons is not None else None,
                              baseline_name, code_pages))
    notes = render.table_footnote(sections).replace("\\[", "[")
    parts.append('<footer class="notes"><h2>Notes</h2>'
                 + "".join(f"<p>{escape(line)}</p>" for line in notes.splitlines())
                 + (f"<p>{escape(render.COMPARE_NOTE)}</p>" if comparisons is not None else "")
                 + "<p>Made by <code>python -m harness report --html</code> from the results "
                   "files alone; it fetches nothing from anywhere.</p></footer>")
    return document("Deep-learning frameworks, side by side", "\n".join(parts))


def _commits(records: list[dict[str, Any]]) -> str:
    commits = sorted({str((r.get("env") or {}).get("commit")) for r in records
                      if (r.get("env") or {}).get("commit")})
    return f"; harness commit {escape(', '.join(commits))}" if commits else ""


def _contents(sections: list[Section]) -> str:
    items = "".join(f'<li><a href="#{section_id(s)}">{escape(render.section_heading(s))}</a>'
                    f"</li>" for s in sections)
    return f'<nav class="contents"><h2>Tables</h2><ul>{items}</ul></nav>'


def answer(section: Section) -> str:
    """One sentence a reader takes away: who is fastest, by how much, or that the lead is
    within noise (the ranking's tie rule: a row's spread overlaps the row above it)."""
    measured = [g for g in section.groups if g.headline]
    if not measured:
        return "No row of this table has a result."
    first, metric = measured[0], render.columns_of(section.benchmark)[0]
    figure = f"{metric.format(first.headline.median)} {metric.unit}"
    name = render.row_name
    if len(measured) == 1:
        text = f"{name(first)}: {figure}, the only row with a result"
    elif measured[1].tied:
        text = (f"{name(first)} ranks first ({figure}), but {name(measured[1])}'s spread "
                f"overlaps it: their order is noise")
        clear = next((g for g in measured[2:] if not g.tied), None)
        if clear is not None and clear.ratio:
            text += f"; the first clear step down is {name(clear)}, {clear.ratio:.2f}x slower"
    else:
        text = (f"{name(first)} is fastest: {figure}, {measured[1].ratio:.2f}x ahead of "
                f"{name(measured[1])}")
    failed = [name(g) for g in section.groups if not g.headline]
    if failed:
        text += f". No result: {', '.join(failed)}"
    return text + "."


def _section(section: Section, comparisons: dict[tuple[str, ...], Comparison] | None,
             baseline_name: str, code_pages: frozenset[str]) -> str:
    heading = escape(render.section_heading(section)).replace(
        "SYNTHETIC data", '<mark class="synthetic">SYNTHETIC data</mark>')
    parts = [f'<section class="result" id="{section_id(section)}"><h2>{heading}</h2>']
    if section.data == "synthetic":
        parts.append('<p class="banner synthetic">Generated stand-in data, not the real data '
                     "set: the speed figures hold, the accuracy says only whether the model "
                     "learned the stand-in's pattern.</p>")
    parts.append(f'<p class="answer">{escape(answer(section))}</p>')
    parts.append('<div class="layout"><div class="main">')
    parts.append(_table(section, comparisons, baseline_name, section.benchmark in code_pages))
    parts.append(_notes(section))
    parts.append('</div><aside class="side">')
    parts.append(_machine(section))
    parts.append("</aside></div>")
    figures = [charts.figure(c) for c in charts.charts(section)]
    parts.append(f'<div class="charts">{"".join(f for f in figures if f)}</div>')
    parts.append(_reproduce(section))
    parts.append("</section>")
    return "\n".join(parts)


def _table(section: Section, comparisons: dict[tuple[str, ...], Comparison] | None,
           baseline_name: str, with_code: bool) -> str:
    headers, rows = render.display_rows(section)
    headers = ["#"] + headers
    if comparisons is not None:
        headers += [f"vs {baseline_name}", "change"]
    fastest = next((g for g in section.groups if g.headline), None)
    head = "".join(f'<th scope="col" tabindex="0" aria-sort="none" title="sort by {escape(h)}">'
                   f'{escape(render.SHORT_HEADERS.get(h, h)).replace(chr(10), "<br>")}</th>'
                   for h in headers)
    body = []
    for place, (group, cells) in enumerate(zip(section.groups, rows), 1):
        name = render.row_name(group)
        shown = escape(cells[0])
        if with_code and _has_source(group.impl, section.benchmark):
            partner = fastest.impl if fastest and fastest.impl != group.impl else ""
            target = f"{code_file(section.benchmark)}#{group.impl}"
            target += f",{partner}" if partner else ""
            shown = (f'{escape(TIE_MARK) + " " if group.tied else ""}<a class="code-link" '
                     f'href="{escape(target)}" title="the code of {escape(name)}">'
                     f"{escape(name)}</a>")
        tds = [f'<td class="num">{place}</td>', f'<th scope="row" class="impl">{shown}</th>']
        for header, cell in zip(headers[2:], cells[1:]):
            tds.append(_cell(header, cell, group))
        if comparisons is not None:
            tds += _comparison_cells(comparisons.get(_row_key(group)))
        status = "ok" if group.status == "ok" else "failed" if not group.ok else "partly"
        body.append(f'<tr class="{status}" data-impl="{escape(group.impl)}">{"".join(tds)}</tr>')
    return (f'<div class="table-wrap"><table class="ranking sortable">'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _cell(header: str, text: str, group: Group) -> str:
    if header == "verify" and group.verified:
        kind = "pass" if group.verified.passed else "fail"
        return (f'<td class="verify {kind}" title="{escape(group.verified.detail)}">'
                f"{escape(text)}</td>")
    if header == "status":
        return f'<td class="status">{escape(text)}</td>'
    return f'<td class="num">{escape(text)}</td>'


def _row_key(group: Group) -> tuple[str, ...]:
    return (group.benchmark, group.impl, group.variant, group.profile, group.data,
            group.device_kind)


def _comparisons_by_row(rows: Sequence[Comparison]) -> dict[tuple[str, ...], Comparison]:
    found = {}
    for c in rows:
        if c.this is not None:
            found[_row_key(c.this)] = c
    return found


def _comparison_cells(c: Comparison | None) -> list[str]:
    if c is None:
        return ['<td class="num">-</td>', '<td class="verdict">not in the baseline</td>']
    verdict = c.verdict
    kind = ("faster" if verdict == "faster" else "slower" if verdict == "slower"
            else "noise")
    ratio = f"{c.ratio:.2f}" if c.ratio is not None else "-"
    return [f'<td class="num">{ratio}</td>', f'<td class="verdict {kind}">{escape(verdict)}</td>']


def _has_source(impl: str, benchmark: str) -> bool:
    try:
        return benchmark in registry.by_name(impl).entry_points
    except KeyError:
        return False


def _machine(section: Section) -> str:
    """What the section's runs ran on, as the records say (distinct values, in order)."""
    runs = [r for g in section.groups for r in g.runs]

    def values(*path: str) -> str:
        found = []
        for run in runs:
            value: Any = run
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value not in (None, "", [], {}):
                found.append(str(value))
        return ", ".join(dict.fromkeys(found))

    rows = [("device", section.device), ("GPU", values("env", "gpu")),
            ("driver", values("env", "gpu_driver")), ("CPU", values("env", "cpu")),
            ("CPU flags", values("env", "cpu_flags")),
            ("threads", values("env", "threads")), ("platform", values("env", "platform")),
            ("Python", values("language_version")), ("host", values("env", "host")),
            ("profile", section.profile), ("data", section.data),
            ("seed", values("env", "seed")), ("commit", values("env", "commit")),
            ("measured", _period(runs))]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows if v)
    return f'<div class="machine"><h3>Machine and run</h3><table>{cells}</table></div>'


def _period(runs: list[dict[str, Any]]) -> str:
    stamps = sorted(str(r["started_at"]) for r in runs if r.get("started_at"))
    if not stamps:
        return ""
    first, last = stamps[0][:16].replace("T", " "), stamps[-1][:16].replace("T", " ")
    return first if first == last else f"{first} to {last}"


def _notes(section: Section) -> str:
    items = "".join(f"<li>{escape(n)}</li>" for n in render.section_notes(section))
    return f'<div class="row-notes"><ul>{items}</ul></div>'


def reproduce_command(group: Group) -> str:
    """The command that measures this row again (at the commit the record names)."""
    run = (group.ok or group.runs)[0]
    env = run.get("env") or {}
    device = "cuda" if group.device_kind == "cuda" else "cpu"
    words = ["python -m harness", group.benchmark, "--impl", group.impl, "--profile",
             group.profile, "--data", group.data, "--device", device]
    if env.get("seed") is not None:
        words += ["--seed", str(env["seed"])]
    if len(group.runs) > 1:
        words += ["--repeat", str(len(group.runs))]
    if run.get("executor") == "slurm":
        words += ["--executor", "slurm"]
    command = " ".join(words)
    commit = env.get("commit")
    return f"git checkout {commit} && {command}" if commit else command


def _reproduce(section: Section) -> str:
    lines = []
    for g in section.groups:
        what = ", ".join(filter(None, (" ".join(filter(None, (g.framework, g.framework_version))),
                                       f"Python {g.runs[0].get('language_version')}"
                                       if g.runs[0].get("language_version") else "")))
        lines.append(f'<li><span class="impl">{escape(render.row_name(g))}</span> '
                     f'<code>{escape(reproduce_command(g))}</code> '
                     f'<span class="versions">{escape(what)}</span></li>')
    return (f'<details class="reproduce"><summary>Reproduce each row</summary>'
            f'<ul>{"".join(lines)}</ul></details>')

