"""The site's code view (harness.report.site.code): `show` as a page - one column per
implementation, one row per section, highlighted and escaped, never crashing on a bad row."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness import sections
from harness.report.site import code
from harness.report.site.code import code_file, code_page, pygments_css

ASSETS = Path(code.__file__).with_name("assets")


class Grid(HTMLParser):
    """The table's structure: the header's implementations, and each section row's cells."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: dict[str, list[str]] = {}  # data-section -> the data-impl of its cells
        self.ids: list[str] = []
        self.pair = ""
        self._row: str | None = None
        self._in_head = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if "id" in attr:
            self.ids.append(attr["id"] or "")
        if tag == "table" and "code-grid" in (attr.get("class") or ""):
            self.pair = attr.get("data-pair") or ""
        elif tag == "thead":
            self._in_head = True
        elif tag == "th" and self._in_head and "data-impl" in attr:
            self.header.append(attr["data-impl"] or "")
        elif tag == "tr" and attr.get("class") == "section":
            self._row = attr["data-section"]
            self.rows[self._row] = []
        elif tag == "td" and self._row is not None:
            self.rows[self._row].append(attr.get("data-impl") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_head = False
        elif tag == "tr":
            self._row = None


def test_pytorch_beside_jax_flax_section_by_section() -> None:
    impls = ["pytorch", "jax-flax"]
    page = code_page("cnn", impls)
    grid = Grid(page)
    assert grid.header == impls
    extracts = [sections.extract(sections.source_for(n, "cnn"), "cnn") for n in impls]
    names = sections.section_names("cnn", extracts, False)
    assert list(grid.rows) == names
    for name in names:
        assert grid.rows[name] == impls, name
        assert f"section-{code.slug(name)}" in grid.ids
    # Highlighted with Pygments' classes, numbered with the file's own line numbers.
    model = extracts[0].sections["model"].parts[0]
    method = re.search(r"def (\w+)", model.code).group(1)
    assert f'<span class="nf">{method}</span>' in page
    assert f'<span class="ln" data-n="{model.first_line}"></span>' in page
    assert "py_impls/pytorch.py" in page
    assert 'style="' not in page  # classes, not Pygments' inline styles
    assert 'src="assets/code.js"' in page and 'id="code-left"' in page and 'id="code-right"' in page


def test_julia_source_is_highlighted_and_its_path_relative() -> None:
    page = code_page("cnn", ["pytorch", "knet"])
    assert Grid(page).rows["model"] == ["pytorch", "knet"]
    assert "julia_impls/knet/cnn.jl" in page
    assert '<span class="k">function</span>' in page or '<span class="k">end</span>' in page


def test_an_unknown_implementation_gets_a_column_saying_why() -> None:
    page = code_page("cnn", ["pytorch", "no-such-impl"])
    grid = Grid(page)
    assert grid.header == ["pytorch", "no-such-impl"]
    assert all(cells == ["pytorch", "no-such-impl"] for cells in grid.rows.values())
    assert "unknown implementation &#x27;no-such-impl&#x27;" in page
    assert page.count("(no source)") == len(grid.rows)


def test_the_default_pair_is_the_first_two_unless_given() -> None:
    assert Grid(code_page("cnn", ["pytorch", "jax-flax", "knet"])).pair == "pytorch,jax-flax"
    assert Grid(code_page("cnn", ["pytorch", "jax-flax", "knet"],
                          pair=("knet", "pytorch"))).pair == "knet,pytorch"
    assert Grid(code_page("cnn", ["pytorch"])).pair == "pytorch,pytorch"
    with pytest.raises(ValueError):
        code_page("cnn", ["pytorch", "jax-flax"], pair=("pytorch", "knet"))


def test_source_text_is_escaped(tmp_path: Path) -> None:
    source = tmp_path / "impl.py"
    source.write_text('''\
class Impl:
    # == model ==
    def build(self, config, seed):
        self.tag = "<script>alert(1)</script>"  # & friends

    # == prediction ==
    def predict(self):
        return x < 1 & y
''')
    name = f"{source}:Impl"
    page = code_page("cnn", [name, "pytorch"])
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp; friends" in page and "&lt;" in page
    assert Grid(page).header == [name, "pytorch"]
    assert f'data-impl="{name}"' in page
    assert "(no `# == data ==` section)" in page  # the file marks no data section
    assert '<span class="ln" data-n="3"></span>' in page  # the line after `# == model ==`


def test_stylesheet_and_file_name() -> None:
    css = pygments_css()
    assert ".highlight .k {" in css and ".code-grid .hidden" in css and "user-select: none" in css
    assert not re.search(r"^pre\s*{", css, re.MULTILINE)  # nothing unscoped from Pygments
    assert code_file("cnn") == "code-cnn.html"
    assert (ASSETS / "code.js").is_file()
