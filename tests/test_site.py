"""`report --html`: the static site's content, read as HTML (no browser; tests/test_site_browser.py
opens it in Chromium). Built from the records of one real quick run (tests/data/README.md)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.commands import main
from harness.report import render
from harness.report.groups import build_sections, load_results
from harness.report.site import page

DATA = Path(__file__).resolve().parent / "data"
MATRIX, VERIFIED = DATA / "quick_matrix.jsonl", DATA / "quick_verify.jsonl"


class Tables(HTMLParser):
    """The text of every ranking table's cells, row by row, and every chart's kind."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.charts: list[str] = []
        self.sections: list[str] = []
        self._cell: list[str] | None = None
        self._in_ranking = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and "ranking" in (found.get("class") or ""):
            self.tables.append([])
            self._in_ranking = True
        elif tag == "tr" and self._in_ranking:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self._in_ranking:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")
        elif tag == "svg" and found.get("data-chart"):
            self.charts.append(str(found["data-chart"]))
        elif tag == "section":
            self.sections.append(str(found.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._in_ranking = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _site(tmp_path: Path, *results: Path, extra: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "site"
    assert main(["report", *map(str, results), "--html", str(folder), *extra]) == 0
    return folder


def _parse(path: Path) -> Tables:
    parser = Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return _site(tmp_path_factory.mktemp("site"), MATRIX, VERIFIED)


@pytest.mark.slow
def test_every_table_holds_the_terminal_reports_cells_in_its_order(site: Path) -> None:
    loaded = load_results([MATRIX, VERIFIED])
    sections = build_sections(loaded.records, verified=loaded.verified)
    parsed = _parse(site / "index.html")
    assert parsed.sections == [page.section_id(s) for s in sections]
    assert len(parsed.tables) == len(sections) == 4
    for section, table in zip(sections, parsed.tables):
        headers, rows = render.display_rows(section)
        header, *body = table
        assert header[1:] == [render.SHORT_HEADERS.get(h, h).replace("\n", " ") for h in headers]
        assert [cells[1:] for cells in body] == rows  # same ranking, ties, spreads, formats
        assert [cells[0] for cells in body] == [str(n) for n in range(1, len(rows) + 1)]


def test_each_section_has_its_four_charts_and_a_verify_column_where_verified(site: Path) -> None:
    parsed = _parse(site / "index.html")
    assert parsed.charts == ["headline", "time", "peak", "memory"] * 4
    verify = [t[0].index("verify") if "verify" in t[0] else None for t in parsed.tables]
    assert verify[:3] == [None, None, None] and verify[3]  # only the Transformer was verified
    transformer = parsed.tables[3]
    assert all(row[verify[3]].startswith("✓ ") for row in transformer[1:])


def test_machine_software_synthetic_label_and_reproduce_lines(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    assert text.count('<mark class="synthetic">SYNTHETIC data</mark>') == 4
    assert "AMD EPYC" in text and "f8ebe12a093a" in text
    assert "pytorch: PyTorch 2.13.0+cpu, fp32; attention F.scaled_dot_product_attention: flash" in text
    assert ("git checkout f8ebe12a093a &amp;&amp; python -m harness transformer --impl "
            "keras-jax --profile quick --data synthetic --device cpu --seed 0") in text
    assert "jax-flax-scan ranks first (189 samples/s), but tensorflow&#x27;s spread overlaps it" \
        in text


def test_the_site_is_small_self_contained_and_links_its_code_pages(site: Path) -> None:
    files = [p for p in site.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 5 * 2**20
    for path in files:
        text = path.read_text(encoding="utf-8")
        # Nothing from elsewhere: no absolute URL but the SVG namespace, no protocol-relative one.
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+[^\s\"'<>)]*", text)) - {
            "http://www.w3.org/2000/svg"}
        assert not {u for u in urls if re.match(r"(https?:)?//", u)}, (path, urls)
    index = (site / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"#]+)', index))
    assert {"code-cnn.html", "code-rnn.html", "code-inference.html",
            "code-transformer.html"} <= links
    assert all((site / link).is_file() for link in links), links
    assert 'href="code-cnn.html#chainer,jax-flax-scan"' in index  # beside the fastest row


@pytest.mark.slow
def test_compare_shows_each_rows_change_and_whether_it_is_noise(tmp_path: Path) -> None:
    records = [json.loads(line) for line in MATRIX.read_text().splitlines()]
    slower = []
    for record in records:  # the same runs, PyTorch's CNN windows 30% slower
        if record["benchmark"] == "cnn" and record["impl"] == "pytorch":
            record = json.loads(json.dumps(record))
            timings = record["timings"]
            timings["window_samples_per_s"] = [v / 1.3 for v in timings["window_samples_per_s"]]
            timings["samples_per_s"] /= 1.3
        slower.append(record)
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(json.dumps(r) for r in slower) + "\n")
    site = _site(tmp_path, MATRIX, extra=("--compare", str(other)))
    cnn = _parse(site / "index.html").tables[0]
    header = cnn[0]
    assert header[-2:] == ["vs other.jsonl", "change"]
    by_impl = {row[1].lstrip("≈ "): row for row in cnn[1:]}
    # Beyond noise: the two sets' windows do not overlap (the rule of `report --compare`).
    assert by_impl["pytorch"][-2:] == ["0.77", "faster"]
    assert by_impl["chainer"][-2:] == ["1.00", "noise"]


@pytest.mark.slow
def test_a_broken_line_is_named_and_the_rest_shown(tmp_path: Path) -> None:
    lines = MATRIX.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines[:5] + ['{"schema": 3, "benchmark": "cnn", "imp'] + lines[5:])
                      + "\n")
    site = _site(tmp_path, broken)
    text = (site / "index.html").read_text(encoding="utf-8")
    assert f"{broken}:6: " in text and 'class="warnings"' in text
    assert sum(len(t) - 1 for t in _parse(site / "index.html").tables) == len(lines)


def test_values_from_a_results_file_are_escaped(tmp_path: Path) -> None:
    record = json.loads(MATRIX.read_text().splitlines()[0])
    record["impl"] = "<script>alert(1)</script>"
    record["env"]["cpu"] = '"><img src=x onerror=alert(1)>'
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(json.dumps(record) + "\n")
    site = _site(tmp_path, hostile)
    for path in site.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img src=x" not in text, path


def test_verify_records_are_not_ranked_as_runs(capsys: pytest.CaptureFixture) -> None:
    """A folder holding results.jsonl and verify.jsonl, as `verify` leaves them, reports the
    runs with a verify column, not verify records as rows without figures."""
    assert main(["report", str(MATRIX), str(VERIFIED)]) == 0
    out = capsys.readouterr().out
    assert "passed" not in out.split("Transformer")[0]  # no verify record ranked as a run
    assert "✓ 4.3e-07" in out  # pytorch's check nearest its tolerance


def test_failed_rows_and_the_original_projects_figures_are_shown(tmp_path: Path) -> None:
    """The hand-made set of the report tests: a full-profile GPU table with the original
    project's K80/P100 figures, a timeout and a crash (tests/report_fixtures.py)."""
    from tests.report_fixtures import standard_records, write_results

    site = _site(tmp_path, write_results(tmp_path / "r.jsonl", standard_records()))
    text = (site / "index.html").read_text(encoding="utf-8")
    table = _parse(site / "index.html").tables[0]
    assert table[0][-4:-2] == ["K80 2017", "P100 2018"]
    assert table[3][1] == "keras-tensorflow" and table[3][-1] == "crashed [2]"
    assert "[2] keras-tensorflow: crashed: killed by signal 9 (out of memory?)" in text
    assert 'class="missing"' in text and "no result: crashed" in text  # its place in the charts
    assert "pytorch is fastest: 21.0 samples/s, 1.45x ahead of jax-flax" in text


def test_the_cpus_kernel_flags_are_recorded_and_shown(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """One "AMD EPYC" may have AVX-512 or not: every result keeps the flags that pick kernels."""
    from harness.run import host

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Intel(R) Xeon(R) Processor\n"
                       "flags\t\t: fpu vme sse4_2 avx2 avx512f avx512_bf16 amx_tile amx_bf16 "
                       "fma ht\n")
    real_path = host.Path
    monkeypatch.setattr(host, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else real_path(p))
    flags = host.cpu_flags()
    assert flags == "amx_bf16 amx_tile avx2 avx512_bf16 avx512f fma sse4_2"
    host.host_environment.cache_clear()  # gathered once a process
    try:
        assert host.host_environment()["cpu_flags"] == flags
    finally:
        host.host_environment.cache_clear()
    record = json.loads(MATRIX.read_text().splitlines()[0])
    record["env"]["cpu_flags"] = flags
    results = tmp_path / "flags.jsonl"
    results.write_text(json.dumps(record) + "\n")
    text = (_site(tmp_path, results) / "index.html").read_text(encoding="utf-8")
    assert f"<tr><th>CPU flags</th><td>{flags}</td></tr>" in text


def test_the_peak_chart_draws_no_bar_above_100_and_says_why(tmp_path: Path) -> None:
    from harness.report.site.charts import peak_chart
    from tests.report_fixtures import write_results
    from tests.test_report import utilisation_records

    records = utilisation_records()
    records[1]["utilisation"]["pct_of_measured_peak"] = 146.0
    path = write_results(tmp_path / "results.jsonl", records)
    (section,) = build_sections(load_results([path]).records, with_reference=False)
    rows = {row.name: row for row in peak_chart(section).rows}
    assert rows["jax-flax"].missing.startswith("above 100%") and not rows["jax-flax"].segments
    assert rows["pytorch"].segments and not rows["pytorch"].missing
