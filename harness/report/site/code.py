"""The site's code view: `python -m harness show BENCHMARK IMPL...` as a page - the
framework-specific code of a benchmark's implementations side by side, section by section
(harness.sections cuts the sources; this module only draws them).

One table holds every implementation: a column each, a row each section, so the sections line
up across columns whatever the code's lengths. assets/code.js shows two columns at a time, the
pair named by the page's hash (`code-cnn.html#pytorch,jax-flax`); without JavaScript every
column shows and the table scrolls sideways. Code is highlighted by Pygments with CSS classes
(`pygments_css`, the site's assets/code.css), and only the classes the style colours are kept:
the quick matrix's pages must stay small.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Sequence

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from harness import benchmarks
from harness.report.site.document import document
from harness.sections import ROOT, Extract, Part, ShowError, extract, section_names, source_for

STYLE = "default"  # a light Pygments style, readable on the site's white background
SCOPE = ".highlight"  # the class of every code block; Pygments' rules are scoped to it

# The grid's own rules, after Pygments' in assets/code.css. Line numbers are drawn from the
# gutter's `data-n` by CSS, so copying code never copies them.
CODE_CSS = """\
/* the code view (code-BENCHMARK.html) */
.code-scroll { overflow-x: auto; max-width: 100%; }
table.code-grid { border-collapse: collapse; }
table.code-grid:not(.paired) th[data-impl], table.code-grid:not(.paired) td[data-impl] {
  min-width: 32rem; }  /* without code.js: every column, the table scrolling sideways */
table.code-grid.paired { table-layout: fixed; width: 100%; }
table.code-grid.paired th[data-impl], table.code-grid.paired td[data-impl] { width: 50%; }
.code-grid th, .code-grid td { vertical-align: top; text-align: left; padding: .25rem .5rem; }
.code-grid thead th { border-bottom: 2px solid #ccc; }
.code-grid thead th small { display: block; font-weight: normal; color: #666; }
.code-grid tr.section-title th { padding-top: 1.25rem; border-bottom: 1px solid #ddd;
  color: #800080; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.code-grid .hidden { display: none !important; }
.code-grid .part-label { margin: .25rem 0 .125rem; font-size: .75rem; color: #666; }
.code-grid .missing { color: #888; font-style: italic; }
.code-grid .error { color: #a00; }
.code-pick label { margin-right: 1rem; }
.highlight { margin: 0 0 .5rem; padding: .25rem .5rem .25rem 0; overflow-x: auto;
  white-space: pre; tab-size: 4; line-height: 1.4; font-size: .8125rem;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.highlight .ln { display: inline-block; width: 4ch; margin-right: 1ch; padding-right: .5ch;
  text-align: right; color: #999; border-right: 1px solid #ddd;
  user-select: none; -webkit-user-select: none; }
.highlight .ln::before { content: attr(data-n); }
@media (max-width: 48rem) {
  /* a phone: the chosen implementations one under the other, each cell named */
  table.code-grid, table.code-grid.paired, .code-grid tbody, .code-grid thead, .code-grid tr,
  .code-grid th, .code-grid td { display: block; width: auto; }
  table.code-grid th[data-impl], table.code-grid td[data-impl],
  table.code-grid.paired th[data-impl], table.code-grid.paired td[data-impl],
  table.code-grid:not(.paired) th[data-impl], table.code-grid:not(.paired) td[data-impl] {
    width: auto; min-width: 0; }
  .code-grid tr.section td::before { content: attr(data-impl); display: block;
    font-weight: bold; font-size: .8125rem; }
}
"""

SPAN = re.compile(r'<span class="([\w-]+)">([^<]*)</span>')


def code_file(benchmark: str) -> str:
    """The page's file name: every link to the code view is built from here."""
    return f"code-{benchmark}.html"


def pygments_css() -> str:
    """assets/code.css: Pygments' colours scoped to `.highlight` (not its global `pre` rules),
    then the grid's own layout (CODE_CSS)."""
    formatter = HtmlFormatter(style=STYLE)
    rules = formatter.get_background_style_defs(SCOPE) + formatter.get_token_style_defs(SCOPE)
    return "\n".join(rules) + "\n\n" + CODE_CSS


def slug(name: str) -> str:
    """An id-safe form of a section name: "loss and optimizer" -> "loss-and-optimizer"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "section"


def code_page(benchmark: str, impls: Sequence[str], pair: tuple[str, str] | None = None) -> str:
    """A whole HTML page: the implementations of one benchmark side by side, one table row per
    section, so that sections line up across columns. `pair` is the two columns shown when the
    page's address names none (default: the first two); an implementation whose source cannot
    be read gets a column saying why, so one broken row never stops the site."""
    if not impls:
        raise ValueError("code_page needs at least one implementation")
    pair = pair or (impls[0], impls[1] if len(impls) > 1 else impls[0])
    if any(name not in impls for name in pair):
        raise ValueError(f"pair {pair} is not among the implementations {list(impls)}")
    record = benchmarks.get(benchmark)
    columns: list[tuple[str, Extract | str]] = []  # name -> its extract, or why there is none
    for name in impls:
        try:
            columns.append((name, extract(source_for(name, benchmark), benchmark, helpers=True)))
        except (ShowError, OSError) as error:
            columns.append((name, str(error)))
    names = section_names(benchmark, [e for _, e in columns if isinstance(e, Extract)], False)

    rows = ["<thead><tr>" + "".join(_header(n, e) for n, e in columns) + "</tr></thead>",
            "<tbody>"]
    for section in names:
        rows.append(f'<tr class="section-title"><th colspan="{len(columns)}" '
                    f'id="section-{slug(section)}">== {escape(section)} ==</th></tr>')
        rows.append(f'<tr class="section" data-section="{escape(section)}">'
                    + "".join(_cell(n, e, section) for n, e in columns) + "</tr>")
    rows.append("</tbody>")

    options = "".join(f'<option value="{escape(n)}">{escape(n)}</option>' for n, _ in columns)
    body = (
        f'<main class="code"><p><a href="index.html">&larr; all results</a></p>\n'
        f"<h1>{escape(record.title)}: the code side by side</h1>\n"
        f"<p>The framework-specific code of each implementation, section by section "
        f"({escape(', '.join(record.sections))}), each section followed by the module-level "
        f"helpers it uses; line numbers are the source file's own.</p>\n"
        # Shown by code.js: without JavaScript the selects could not do anything.
        f'<p class="code-pick" hidden>'
        f'<label>left <select id="code-left">{options}</select></label>'
        f'<label>right <select id="code-right">{options}</select></label></p>\n'
        f'<div class="code-scroll">\n<table class="code-grid" '
        f'data-pair="{escape(",".join(pair))}">\n' + "\n".join(rows) + "\n</table>\n</div></main>")
    return document(f"{record.title}: the code side by side", body,
                    scripts=("site.js", "code.js"))


def _header(name: str, found: Extract | str) -> str:
    """The column's name, and where its code comes from (or why there is none)."""
    if isinstance(found, str):
        detail = f'<small class="error">not shown: {escape(found)}</small>'
    else:
        path = _shown_path(found.source.path)
        where = (found.region if name.partition(":")[0] in (str(found.source.path), path)
                 else f"{path}, {found.region}")
        if not found.sections:
            where += " - no `# == section ==` markers"
        detail = f"<small>{escape(where)}</small>"
    return f'<th data-impl="{escape(name)}">{escape(name)}{detail}</th>'


def _cell(name: str, found: Extract | str, section: str) -> str:
    if isinstance(found, str):
        inner = '<span class="missing">(no source)</span>'
    elif section not in found.sections:
        inner = f'<span class="missing">(no `# == {escape(section)} ==` section)</span>'
    else:
        inner = "".join(_part(part, found.source.language)
                        for part in found.sections[section].parts)
    return f'<td data-impl="{escape(name)}">{inner}</td>'


def _part(part: Part, language: str) -> str:
    """One block of code, under its label ("from class X - note", as the terminal shows)."""
    label = " - ".join(filter(None, (f"from class {part.origin}" if part.origin else "",
                                     part.note)))
    caption = f'<div class="part-label">{escape(label)}</div>' if label else ""
    lines = highlighted(part.code or " ", language)
    numbered = "\n".join(f'<span class="ln" data-n="{part.first_line + i}"></span>{line}'
                         for i, line in enumerate(lines))
    return f'{caption}<pre class="{SCOPE[1:]}">{numbered}</pre>'


def highlighted(code: str, language: str) -> list[str]:
    """The code's lines as HTML, one per source line (Pygments closes its spans at each line's
    end), escaped; spans of token classes the style leaves uncoloured are dropped."""
    try:
        lexer = get_lexer_by_name(language, stripnl=False)  # keep blank lines: line numbers
    except ClassNotFound:
        lexer = get_lexer_by_name("text", stripnl=False)
    text = highlight(code, lexer, HtmlFormatter(nowrap=True))
    styled = _styled_classes()
    text = SPAN.sub(lambda m: m.group(0) if m.group(1) in styled else m.group(2), text)
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()  # Pygments ends the text with a newline
    return lines


@lru_cache(maxsize=1)
def _styled_classes() -> frozenset[str]:
    """The token classes STYLE gives a colour or a font to (not `w`: whitespace stays plain)."""
    formatter = HtmlFormatter(style=STYLE)
    return frozenset(cls for cls, (style, _, _) in formatter.class2style.items()
                     if style and cls != "w")


def _shown_path(path: Path) -> str:
    """The source file relative to the project root (a path given relative to the current
    directory is resolved first)."""
    try:
        return str(path.resolve().relative_to(ROOT.resolve()))
    except ValueError:
        return str(path)
