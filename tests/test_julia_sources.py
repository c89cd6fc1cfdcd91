"""The Julia sources, checked without Julia: every .jl file parses (tree-sitter-julia), reads
in the section order of the Python files, and defines every function, with every keyword, that
harness/julia/bridge.py calls."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness import benchmarks
from harness.julia import readiness as jr

tree_sitter = pytest.importorskip("tree_sitter", reason="pip install tree-sitter tree-sitter-julia")
tree_sitter_julia = pytest.importorskip("tree_sitter_julia",
                                        reason="pip install tree-sitter tree-sitter-julia")

JULIA_FILES = sorted(jr.JULIA_IMPLS.rglob("*.jl"))
IMPLEMENTATIONS = [jr.FLAVORS[f].sources / jr.julia_sources()[b]
                   for f in jr.FLAVORS for b in jr.julia_sources()]

TRAINING_SECTIONS = ["# == data ==", "# == model ==", "# == loss and optimizer ==",
                     "# == training epoch ==", "# == prediction =="]
INFERENCE_SECTIONS = ["# == data ==", "# == model ==", "# == features =="]

# What the adapters call on each module (harness/julia/bridge.py) besides `build`, by the
# benchmark's kind: the training adapter, or the inference adapter.
VERIFY = {"load_weight", "get_weights", "verify_step", "activations"}
CALLED = {"training": {"State", "prepare", "build", "train_epoch", "predict", "sync", "info"} | VERIFY,
          "inference": {"State", "prepare", "build", "extract", "sync", "info", "load_weight"}}


def record_of(path: Path):
    """The benchmark record whose Julia source `path` is."""
    return next(benchmarks.get(b) for b, name in jr.julia_sources().items() if name == path.name)


def parser():
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_julia.language()))


def syntax_errors(source: bytes) -> list[str]:
    """Every ERROR or MISSING node, as 'line:column kind'."""
    found: list[str] = []
    stack = [parser().parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            kind = f"missing {node.type}" if node.is_missing else "syntax error"
            found.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1} {kind}")
        stack.extend(node.children)
    return found


def definitions(source: bytes) -> dict[str, list]:
    """Function names defined (long form, short form, or a struct's type name) -> the
    argument_list nodes of their signatures."""
    found: dict[str, list] = {}
    stack = [parser().parse(source).root_node]
    while stack:
        node = stack.pop()
        call = None
        if node.type == "function_definition":
            signature = next((c for c in node.named_children if c.type == "signature"), None)
            call = signature.named_children[0] if signature and signature.named_children else None
        elif node.type == "assignment" and node.named_children[0].type == "call_expression":
            call = node.named_children[0]
        elif node.type == "struct_definition":
            head = node.named_children[0]
            found.setdefault(head.named_children[0].text.decode(), [])
        if call is not None and call.type == "call_expression":
            name = call.named_children[0].text.decode()
            found.setdefault(name, []).append(call.named_children[1])
        stack.extend(node.named_children)
    return found


def keywords(arguments) -> set[str]:
    """Keyword parameter names: what follows the ';' of an argument list."""
    names, after = set(), False
    for child in arguments.children:
        if child.type == ";":
            after = True
        elif after and child.type == "identifier":
            names.add(child.text.decode())
        elif after and child.type in ("named_argument", "typed_expression"):
            while child.type != "identifier":  # e::Int=2 -> e::Int -> e
                child = child.named_children[0]
            names.add(child.text.decode())
    return names


@pytest.mark.parametrize("path", JULIA_FILES, ids=lambda p: str(p.relative_to(jr.JULIA_IMPLS)))
def test_every_julia_file_parses(path: Path):
    assert syntax_errors(path.read_bytes()) == []


def test_the_checker_catches_broken_julia():
    assert syntax_errors(b"function f(x)\n    x + 1\nend\n") == []
    assert syntax_errors(b"function f(x)\n    x +\nend\n")  # a dangling operator
    assert syntax_errors(b"module M\nfunction f(x)\n    x + 1\n")  # `end`s missing
    assert syntax_errors(b"y = [1, 2\n")  # an unclosed bracket


def test_there_are_julia_sources_for_every_flavor_and_benchmark():
    assert [p for p in IMPLEMENTATIONS if not p.is_file()] == []
    assert (jr.JULIA_IMPLS / "test" / "runtests.jl").is_file()
    assert (jr.REPO_ROOT / "Project.toml").is_file()
    assert (jr.FLAVORS["flux"].project / "Project.toml").is_file()


@pytest.mark.parametrize("path", IMPLEMENTATIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sections_read_in_the_python_files_order(path: Path):
    text = path.read_text()
    sections = TRAINING_SECTIONS if record_of(path).training else INFERENCE_SECTIONS
    positions = [text.find(marker) for marker in sections]
    assert -1 not in positions, f"missing: {[s for s, p in zip(sections, positions) if p < 0]}"
    assert positions == sorted(positions)


@pytest.mark.parametrize("path", IMPLEMENTATIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_julia_defines_what_the_bridge_calls(path: Path):
    defined = definitions(path.read_bytes())
    for helper in ("device.jl",):  # included files count as the module's own
        defined.update(definitions((path.parent / helper).read_bytes()))
    missing = CALLED[record_of(path).kind] - set(defined)
    assert not missing, f"{path.name} lacks {sorted(missing)}"


@pytest.mark.parametrize("path", IMPLEMENTATIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_build_accepts_every_field_of_the_config(path: Path):
    """The adapter calls `build(state, seed; <every config field>...)` (dataclasses.asdict):
    each keyword the file declares is a field of the benchmark's config, and a `kw...` splat
    takes the fields it does not declare."""
    fields = {f.name for f in dataclasses.fields(record_of(path).config)}
    (arguments,) = definitions(path.read_bytes())["build"]
    declared = keywords(arguments)
    assert declared <= fields, f"not config fields: {sorted(declared - fields)}"
    assert declared == fields or splat(arguments), \
        f"no kw... for {sorted(fields - declared)}"


def splat(arguments) -> bool:
    """Whether the keyword part of an argument list ends in a splat (`kw...`)."""
    after = False
    for child in arguments.children:
        after = after or child.type == ";"
        if after and child.type == "splat_expression":
            return True
    return False


def test_the_build_keyword_test_catches_a_missing_splat_and_a_stray_keyword():
    (arguments,) = definitions(b"build(s, seed; lr, kw...) = s\n")["build"]
    assert keywords(arguments) == {"lr"} and splat(arguments)
    (arguments,) = definitions(b"build(s, seed; lr, colour) = s\n")["build"]
    assert not splat(arguments) and "colour" in keywords(arguments)
    (arguments,) = definitions(b"build(s, kw...; lr) = s\n")["build"]  # a positional splat
    assert not splat(arguments)


def test_the_keyword_reader_reads_keywords():
    (arguments,) = definitions(b"f(a, b; c, d=1, e::Int=2) = a\n")["f"]
    assert keywords(arguments) == {"c", "d", "e"}


@pytest.mark.parametrize("flavor", list(jr.FLAVORS))
@pytest.mark.parametrize("benchmark", list(jr.julia_sources()))
def test_show_finds_every_section_of_the_julia_row(flavor, benchmark):
    from harness import benchmarks
    from harness import sections as show

    options = jr.row_options(flavor)
    assert options["flavor"] == flavor
    source = show._path_source(flavor, options["source"][benchmark])
    sections = show.extract(source, benchmark).sections
    common = benchmarks.get(benchmark).sections
    assert set(common) <= set(sections)
    last = common[-1]
    assert "load_weight" not in sections[last].code  # the bridge's hooks are no section
    assert "sync(s::State)" not in sections[last].code
