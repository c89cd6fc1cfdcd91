"""The results site as a person sees it: `report --html` opened in headless Chromium (Debian's
`chromium`, driven by Playwright; .ci/run installs it). The page loads from `file://` with no
console error and no request anywhere else, draws every table and chart, sorts a column on a
click, shows a bar's figures on hover, opens the code view from a table row with its sections
side by side, and fits a phone's width."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.commands import main

DATA = Path(__file__).resolve().parent / "data"
MATRIX, VERIFIED = DATA / "quick_matrix.jsonl", DATA / "quick_verify.jsonl"


def _chromium() -> str:
    for candidate in (os.environ.get("HARNESS_CHROMIUM"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.skip("no Chromium here: apt-get install chromium (or set HARNESS_CHROMIUM to a "
                "Chromium binary) to run the site's browser tests")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site") / "site"
    assert main(["report", str(MATRIX), str(VERIFIED), "--html", str(folder)]) == 0
    return folder


class Visit:
    """A page of the site in a fresh tab, with what it logged and requested."""

    def __init__(self, browser: Any, url: str, width: int = 1280, height: int = 800) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def outside(self) -> list[str]:
        return [url for url in self.requests if not url.startswith("file://")]


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_(url: str, **size: int) -> Visit:
        opened.append(Visit(browser, url, **size))
        return opened[-1]

    yield open_
    for one in opened:
        one.page.close()


@pytest.mark.slow
def test_the_page_loads_offline_without_errors_and_draws_every_section(site: Path,
                                                                      visit) -> None:
    seen = visit((site / "index.html").as_uri())
    assert seen.errors == [] and seen.outside() == []
    page = seen.page
    sections = page.locator("section.result")
    assert sections.count() == 4
    for index in range(4):
        section = sections.nth(index)
        rows = section.locator("table.ranking tbody tr")
        assert rows.count() >= 10
        charts = section.locator("svg.chart")
        assert charts.count() == 4
        for chart in range(4):
            box = charts.nth(chart).bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100
            assert charts.nth(chart).locator("rect").count() >= rows.count()  # a bar per row


def _column(page: Any, table: Any, header: str) -> list[str]:
    index = page.evaluate(
        "([t, h]) => Array.from(t.tHead.rows[0].cells).findIndex(c => c.title === 'sort by ' + h)",
        [table.element_handle(), header])
    assert index >= 0, header
    return [row.locator("td, th").nth(index).inner_text()
            for row in table.locator("tbody tr").all()]


@pytest.mark.slow
def test_clicking_a_heading_sorts_its_column_both_ways(site: Path, visit) -> None:
    page = visit((site / "index.html").as_uri()).page
    table = page.locator("section.result").first.locator("table.ranking")
    ranked = _column(page, table, "samples/s")
    numbers = [float(v.replace(",", "")) for v in ranked]
    assert numbers == sorted(numbers, reverse=True)  # rank order: fastest first
    header = table.locator("thead th[title='sort by peak RSS MiB']")
    header.click()
    memory = [float(v.replace(",", "")) for v in _column(page, table, "peak RSS MiB")]
    assert memory == sorted(memory) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    memory = [float(v.replace(",", "")) for v in _column(page, table, "peak RSS MiB")]
    assert memory == sorted(memory, reverse=True)
    table.locator("thead th[title='sort by #']").click()  # back to the ranking
    assert _column(page, table, "samples/s") == ranked


@pytest.mark.slow
def test_hovering_a_bar_gives_its_figures(site: Path, visit) -> None:
    page = visit((site / "index.html").as_uri()).page
    first_bar = page.locator("section.result").first.locator("svg.chart g.bar").first
    first_bar.hover()
    tip = page.locator("#tip")
    assert tip.is_visible()
    assert tip.inner_text().startswith("jax-flax-scan: 189 samples/s (median over 4 windows")


@pytest.mark.slow
def test_a_table_row_opens_the_code_view_with_sections_side_by_side(site: Path, visit) -> None:
    seen = visit((site / "index.html").as_uri())
    page = seen.page
    page.locator("section.result").first.locator("a.code-link", has_text="chainer").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("code-cnn.html#chainer,jax-flax-scan")
    assert page.locator("#code-left").input_value() == "chainer"
    assert page.locator("#code-right").input_value() == "jax-flax-scan"
    sections = page.locator("table.code-grid tr.section")
    assert sections.count() >= 5
    for row in sections.all():
        cells = row.locator("td:visible")
        assert [c.get_attribute("data-impl") for c in cells.all()] == ["chainer", "jax-flax-scan"]
        left, right = (c.bounding_box() for c in cells.all())
        assert left["y"] == right["y"] and left["x"] < right["x"]  # the section lines up
        assert left["width"] > 300 and right["width"] > 300
    page.locator("#code-right").select_option("pytorch")
    assert page.url.endswith("#chainer,pytorch")
    visible = sections.first.locator("td:visible")
    assert [c.get_attribute("data-impl") for c in visible.all()] == ["chainer", "pytorch"]
    assert seen.errors == [] and seen.outside() == []


@pytest.mark.slow
def test_a_results_file_with_a_broken_line_renders_the_rest_with_the_line_named(
        tmp_path: Path, visit) -> None:
    lines = MATRIX.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines[:5] + ['{"schema": 3, "benchmark": "cnn", "imp']
                                + lines[5:]) + "\n")
    folder = tmp_path / "site"
    assert main(["report", str(broken), "--html", str(folder)]) == 0
    seen = visit((folder / "index.html").as_uri())
    warning = seen.page.locator("aside.warnings")
    assert warning.is_visible() and f"{broken.name}:6:" in warning.inner_text()
    assert seen.page.locator("section.result table.ranking").count() == 4
    assert seen.errors == []


@pytest.mark.slow
@pytest.mark.parametrize("page_name", ["index.html", "code-transformer.html"])
def test_the_pages_fit_a_phones_width(site: Path, visit, page_name: str) -> None:
    seen = visit((site / page_name).as_uri(), width=390, height=844)
    width = seen.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page_name} is {width} px wide on a 390 px screen"
    assert seen.errors == [] and seen.outside() == []
