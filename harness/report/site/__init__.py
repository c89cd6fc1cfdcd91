"""`python -m harness report --html DIR`: the results as a static site - `index.html` (the
ranked tables, charts, machine and footnotes: page.py, charts.py), one code page per benchmark
(the implementations side by side: code.py) and `assets/` (the site's own CSS and script).
Everything is made from the results files; nothing is fetched, so the folder opens from disk
and can be published on any static host as it is."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from harness.report.groups import Comparison, Loaded, Section
from harness.report.site import code, page
from harness.report.site.document import ASSETS

HERE = Path(__file__).resolve().parent


def write_site(folder: Path, loaded: Loaded, sections: list[Section], *,
               comparisons: Sequence[Comparison] | None = None, baseline_name: str = "",
               warnings: Sequence[str] = ()) -> list[Path]:
    """Writes the site into `folder` (made if missing; the site's own files are replaced,
    nothing else there is touched) and returns the files written, index.html first."""
    folder = Path(folder)
    (folder / ASSETS).mkdir(parents=True, exist_ok=True)
    written = []
    benchmarks_shown = list(dict.fromkeys(s.benchmark for s in sections))
    code_pages = set()
    for benchmark in benchmarks_shown:
        impls = list(dict.fromkeys(g.impl for s in sections if s.benchmark == benchmark
                                   for g in s.groups))
        if not impls:
            continue
        fastest = next((g.impl for s in sections if s.benchmark == benchmark
                        for g in s.groups if g.headline), impls[0])
        others = [i for i in impls if i != fastest]
        pair = (fastest, others[0]) if others else None
        path = folder / code.code_file(benchmark)
        path.write_text(code.code_page(benchmark, impls, pair), encoding="utf-8")
        written.append(path)
        code_pages.add(benchmark)
    index = folder / "index.html"
    index.write_text(page.index_page(loaded, sections, comparisons=comparisons,
                                     baseline_name=baseline_name, warnings=warnings,
                                     code_pages=frozenset(code_pages)), encoding="utf-8")
    for name in ("site.css", "site.js", "code.js"):
        target = folder / ASSETS / name
        shutil.copyfile(HERE / ASSETS / name, target)
        written.append(target)
    css = folder / ASSETS / "code.css"
    css.write_text(code.pygments_css(), encoding="utf-8")
    return [index, *written, css]
