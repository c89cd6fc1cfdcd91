"""The `# == section ==` parts of an implementation's source, found and cut out: what
`python -m harness show` puts side by side (harness.commands.show draws them).

Sections are marked in the sources by comment lines (harness/interface.py):
`# == data ==`, `# == model ==`, `# == loss and optimizer ==`, `# == training epoch ==`,
`# == prediction ==` for training and `# == data ==`, `# == model ==`, `# == features ==` for
inference. A section runs from its marker to the next marker of any name, or to the end of the
region being read; any other marker name (say `# == verification ==`) ends the section before
it and is shown only with `--all`.

Which part of a source file belongs to a benchmark:
- Python: the class named by the registry's entry point (`py_impls.pytorch:CNN` -> class `CNN`),
  found with `ast`. A section the class does not mark itself is taken from its base classes in
  the same file, nearest first (so `class CNNWholeEpoch(_WholeEpoch, CNN)` shows `_WholeEpoch`'s
  `# == training epoch ==` and `CNN`'s model); each section says which class it came from.
- Julia, or any file holding several benchmarks without classes: the lines after a marker
  `# == benchmark: cnn ==` (or `rnn`, `inference`) up to the next benchmark marker.
- Otherwise the whole file.
A Python section is followed by the module-level functions, classes and assignments it uses
(transitively, each shown once; `--no-helpers` leaves them out), since much framework-specific
code - a jitted train step, a loss function, a model definition - lives outside the class.

An implementation whose registry entry point is not its source (a Julia row behind a Python
bridge) names its source in `Implementation.options["source"]`: "path[:Symbol]" relative to the
project root, or a dict benchmark -> "path[:Symbol]".
"""

from __future__ import annotations

import ast
import importlib.util
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from harness import benchmarks
from harness.project import REPO_ROOT

ROOT = REPO_ROOT
MARKER = re.compile(r"^\s*#\s*==\s*(?P<name>[^=]*?)\s*==\s*$")
BENCHMARK_MARKER = re.compile(r"^benchmark:\s*(?P<benchmark>\w+)$")
LEXER = {".py": "python", ".jl": "julia"}


class ShowError(Exception):
    """A request `show` cannot satisfy; the message says what to do."""


@dataclass(frozen=True)
class Source:
    label: str  # what the user asked for: an implementation name or a path
    path: Path
    symbol: str | None  # Python class holding the benchmark

    @property
    def language(self) -> str:
        return LEXER.get(self.path.suffix, "text")


@dataclass
class Part:
    code: str  # dedented
    first_line: int  # 1-based line number in the file
    origin: str = ""  # the class it came from, where that is not the class asked for
    note: str = ""


@dataclass
class SectionCode:
    name: str
    parts: list[Part]

    @property
    def code(self) -> str:
        return "\n".join(part.code for part in self.parts)


@dataclass
class Extract:
    source: Source
    sections: dict[str, SectionCode] = field(default_factory=dict)
    region: str = ""  # "class CNN, lines 133-197" and the like


@dataclass(frozen=True)
class PyClass:
    name: str
    start: int  # first line, decorators included
    end: int
    bases: tuple[str, ...]
    methods: dict[str, tuple[int, int]]  # name -> (first line incl. decorators, last line)


@dataclass
class PyModule:
    path: Path
    lines: list[str]
    classes: dict[str, PyClass]
    definitions: dict[str, tuple[int, int]]  # top-level name -> (first line, last line)
    imports: dict[str, tuple[str, str]]  # local name -> (module, its name there), `from` imports
    implementations: set[str]  # classes with section markers: never shown as helpers


# Methods of the implementation interface that belong to no section (verification hooks and
# bookkeeping): in a Python class, a section ends where one of them begins.
OUTSIDE_SECTIONS = frozenset({"load_weights", "get_weights", "verify_step", "activations",
                              "info", "sync", "matmul", "device_memory_peak"})


# ---------------------------------------------------------------- finding the source

def source_for(name: str, benchmark: str) -> Source:
    """An implementation name from the registry, or a path "file.py[:Class]" / "file.jl"."""
    from harness import registry

    try:
        impl = registry.by_name(name)
    except KeyError as unknown:
        if "/" in name or name.split(":")[0].endswith(tuple(LEXER)):
            return _path_source(name, name)
        raise ShowError(f"{unknown.args[0]} (or give a source file: path/to/impl.py:Class)") \
            from None
    if benchmark not in impl.entry_points:
        raise ShowError(f"{name} does not implement {benchmark}")
    option = impl.options.get("source")
    if isinstance(option, dict):
        option = option.get(benchmark)
    if option:
        return _path_source(name, str(option))
    entry = impl.entry_points[benchmark]
    if not entry:
        raise ShowError(f"{name} has no source in this project: "
                        f"{impl.unavailable or 'no entry point registered'}")
    module, _, symbol = entry.partition(":")
    if module.endswith(tuple(LEXER)) or "/" in module:
        return _path_source(name, entry)
    return Source(name, module_file(module), symbol or None)


def _path_source(label: str, spec: str) -> Source:
    path_text, _, symbol = spec.partition(":")
    path = Path(path_text)
    if not path.is_absolute() and not path.exists():
        path = ROOT / path
    if not path.is_file():
        raise ShowError(f"no source file {path_text} (for {label})")
    return Source(label, path, symbol or None)


def module_file(module: str) -> Path:
    """The file of a module of this project, found without importing it."""
    candidate = ROOT.joinpath(*module.split("."))
    for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
        if path.is_file():
            return path
    spec = importlib.util.find_spec(module)  # outside the project: imports parent packages
    if spec is None or not spec.origin:
        raise ShowError(f"cannot find the source of module {module}")
    return Path(spec.origin)


# ---------------------------------------------------------------- cutting it into sections

def extract(source: Source, benchmark: str, helpers: bool = True) -> Extract:
    """The sections of one implementation of `benchmark`. With `helpers`, a Python section is
    followed by the module-level functions, classes and assignments it uses (and those they
    use, each once, in the first section that needs it): `cross_entropy` and `train_step`
    next to a JAX epoch, the ResNet-50 definition next to the model that builds it."""
    lines = source.path.read_text(encoding="utf-8").splitlines()
    result = Extract(source)
    if source.language == "python" and source.symbol:
        module = _python_module(lines, source.path)
        if source.symbol in module.classes:
            _extract_class(lines, module.classes, source.symbol, result)
            if helpers:
                _add_helpers(module, source.symbol, benchmark, result)
            return result
    start, end = _benchmark_region(lines, benchmark)
    result.region = (f"lines {start}-{end}" if (start, end) != (1, len(lines))
                     else "whole file")
    for name, first, last in _sections(lines, start, end):
        result.sections.setdefault(name, SectionCode(name, [_part(lines, first, last)]))
    return result


def _extract_class(lines: list[str], classes: dict[str, PyClass], name: str,
                   result: Extract) -> None:
    """Sections of class `name`; a section it does not mark comes from its nearest base that
    does, preceded by the methods of that section which a nearer class overrides."""
    lineage = _lineage(name, classes)
    for depth, owner in enumerate(lineage):
        cls = classes[owner]
        cuts = [first for method, (first, _) in cls.methods.items() if method in OUTSIDE_SECTIONS]
        for section, first, last in _sections(lines, cls.start, cls.end, cuts):
            if section in result.sections:
                continue
            parts = []
            for method, (m_first, _) in cls.methods.items():
                if not first <= m_first <= last:
                    continue
                for nearer in lineage[:depth]:  # most derived first
                    if method in classes[nearer].methods:
                        o_first, o_last = classes[nearer].methods[method]
                        parts.append(_part(lines, o_first, o_last, origin=nearer,
                                           note=f"overrides {owner}.{method}"))
                        break
            parts.append(_part(lines, first, last, origin=owner if owner != name else ""))
            result.sections[section] = SectionCode(section, parts)
    cls = classes[name]
    result.region = f"class {name}, lines {cls.start}-{cls.end}"


def _part(lines: list[str], first: int, last: int, origin: str = "", note: str = "") -> Part:
    return Part(textwrap.dedent("\n".join(lines[first - 1:last])), first, origin, note)


def _python_module(lines: list[str], path: Path) -> PyModule:
    """Top-level classes (with bases and methods), every top-level definition - function,
    class or assignment to a name - with its lines, and the names `from` imports bring in."""
    try:
        tree = ast.parse("\n".join(lines), filename=str(path))
    except SyntaxError as error:
        raise ShowError(f"{path} does not parse as Python: {error}") from None
    classes: dict[str, PyClass] = {}
    definitions: dict[str, tuple[int, int]] = {}
    imports: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                imports[alias.asname or alias.name] = (node.module, alias.name)
        span = (_first_line(node), node.end_lineno or node.lineno)
        if isinstance(node, ast.ClassDef):
            methods = {item.name: (_first_line(item), item.end_lineno or item.lineno)
                       for item in node.body
                       if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
            bases = tuple(b.id for b in node.bases if isinstance(b, ast.Name))
            classes[node.name] = PyClass(node.name, *span, bases, methods)
            definitions[node.name] = span
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            definitions[node.name] = span
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    definitions[target.id] = span
    implementations = {c.name for c in classes.values() if _markers(lines, c.start, c.end)}
    return PyModule(path, lines, classes, definitions, imports, implementations)


NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


def _add_helpers(main: PyModule, name: str, benchmark: str, result: Extract) -> None:
    """Append to each section the definitions its code uses, from its own module or, through a
    `from` import, from another module of the project (tf_keras builds the model keras3 defines)."""
    # Not helpers: the class shown and its bases, and other implementation classes.
    excluded = set(_lineage(name, main.classes))
    modules = {main.path: main}
    shown: set[tuple[Path, str]] = set()
    common = benchmarks.get(benchmark).sections
    order = list(common) + [n for n in result.sections if n not in common]
    for section_name in order:
        section = result.sections.get(section_name)
        if section is None:
            continue
        pending = [(part.code, main) for part in section.parts]
        while pending:
            code, module = pending.pop(0)
            for used in NAME.findall(code):
                found = _resolve(used, module, modules)
                if found is None or (found[0].path, found[1]) in shown:
                    continue
                owner, defined = found
                if (owner is main and defined in excluded) or defined in owner.implementations:
                    continue
                shown.add((owner.path, defined))
                first, last = owner.definitions[defined]
                where = "module level" if owner is main else f"from {_shown_path(owner.path)}"
                part = _part(owner.lines, first, last, note=f"{where}: {defined}, used above")
                section.parts.append(part)
                pending.append((part.code, owner))


def _resolve(used: str, module: PyModule, modules: dict[Path, PyModule]
             ) -> tuple[PyModule, str] | None:
    """Where the name `used` in `module` is defined: in the module itself, or in a module
    beside it that it imports the name from (py_impls/tf_keras.py from py_impls/keras3.py; the
    harness's own types are not implementation code and are not followed)."""
    if used in module.definitions:
        return module, used
    if used not in module.imports:
        return None
    dotted, original = module.imports[used]
    package, _, name = dotted.rpartition(".")
    path = (module.path.parent / f"{name}.py").resolve()
    if package not in ("", module.path.parent.name) or not path.is_file():
        return None
    if path not in modules:
        try:
            modules[path] = _python_module(path.read_text(encoding="utf-8").splitlines(), path)
        except (OSError, ShowError):
            return None
    other = modules[path]
    return (other, original) if original in other.definitions else None


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return path.name


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _lineage(name: str, classes: dict[str, PyClass]) -> list[str]:
    """The class, then its bases defined in the same file, nearest first (depth-first, left to
    right, each once: the method resolution order for the usual mixin hierarchies)."""
    order: list[str] = []

    def visit(cls: str) -> None:
        if cls in classes and cls not in order:
            order.append(cls)
            for base in classes[cls].bases:
                visit(base)

    visit(name)
    return order


def _markers(lines: list[str], start: int, end: int) -> list[tuple[int, str]]:
    found = []
    for number in range(start, end + 1):
        match = MARKER.match(lines[number - 1])
        if match:
            found.append((number, match.group("name").strip()))
    return found


def _benchmark_region(lines: list[str], benchmark: str) -> tuple[int, int]:
    starts = [(n, BENCHMARK_MARKER.match(name)) for n, name in _markers(lines, 1, len(lines))]
    starts = [(n, m.group("benchmark")) for n, m in starts if m]
    for i, (number, name) in enumerate(starts):
        if name == benchmark:
            end = starts[i + 1][0] - 1 if i + 1 < len(starts) else len(lines)
            return number + 1, end
    if starts:
        raise ShowError(f"no `# == benchmark: {benchmark} ==` marker in this file (it marks "
                        f"{', '.join(n for _, n in starts)})")
    return 1, len(lines)


def _sections(lines: list[str], start: int, end: int, cuts: list[int] = ()
              ) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of each marked section between `start` and `end`; a
    section ends at the next marker, the next line in `cuts`, or `end`; trailing blank lines
    are left out."""
    markers = [(n, name) for n, name in _markers(lines, start, end)
               if not BENCHMARK_MARKER.match(name)]
    sections = []
    for i, (number, name) in enumerate(markers):
        stop = markers[i + 1][0] - 1 if i + 1 < len(markers) else end
        stop = min([stop] + [cut - 1 for cut in cuts if cut > number])
        while stop > number and not lines[stop - 1].strip():
            stop -= 1
        sections.append((name, number + 1, stop))
    return sections


def section_names(benchmark: str, extracts: list[Extract], everything: bool) -> list[str]:
    """The benchmark's sections in order; with `everything`, any other marked ones after them."""
    names = list(benchmarks.get(benchmark).sections)
    if everything:
        names += [n for e in extracts for n in e.sections if n not in names]
    return list(dict.fromkeys(names))
