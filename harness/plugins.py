"""Out-of-tree benchmarks and rows: the plugins named by `HARNESS_PLUGINS` (comma-separated).

A plugin module may hold `BENCHMARKS`, a list of `harness.benchmarks.Benchmark` records, and
`ROWS`, a list of `harness.registry.Row`. Both the parent and every child process load them (the
child needs a plugin benchmark's record to run it), so a plugin works with every command
without editing the harness: docs/adding.md.

Loading a plugin runs its code, so exactly what the user named is imported, nothing that merely
lies where the harness was started (README, "Environment variables and the trust model"):
- a path to a `.py` file (the entry contains a `/` or ends in `.py`) imports that file, as the
  module named by its stem; the file must be owned by you or root and not writable by group or
  others. The parent hands the absolute path to its children, which start elsewhere.
- a dotted module name is imported from the project's checkout and `sys.path` without the
  current directory (which `python -m` puts first), unless PYTHONPATH names it; what a plugin
  imports itself is looked up there too, as in every child process.
Every problem is a `PluginError` whose message names the variable, the value and the fix.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator

from harness.project import REPO_ROOT
from harness.trust import other_owner, write_access_problem

VARIABLE = "HARNESS_PLUGINS"


class PluginError(Exception):
    """A plugin could not be loaded; one line per bad entry, each naming its fix."""


def load_plugins(modules: str | None = None) -> None:
    """Import every plugin named (by default in `$HARNESS_PLUGINS`) and register its benchmarks
    and rows. The good ones are registered even when another fails; then PluginError."""
    from_environment = modules is None
    spec = os.environ.get(VARIABLE, "") if from_environment else modules
    problems, loaded = [], []
    for entry in filter(None, (m.strip() for m in spec.split(","))):
        try:
            module = import_file(entry) if is_path(entry) else import_name(entry)
            register(entry, module)
        except PluginError as error:
            problems.append(str(error))
            continue
        loaded.append(module.__file__ if is_path(entry) else entry)
    if problems:
        raise PluginError("\n".join(problems))
    if from_environment and loaded:
        os.environ[VARIABLE] = ",".join(loaded)  # children start in another directory


def is_path(entry: str) -> bool:
    return entry.endswith(".py") or "/" in entry or os.sep in entry


def failed(entry: str, problem: str, fix: str) -> PluginError:
    return PluginError(f"{VARIABLE}={entry!r}: {problem}; {fix}")


def import_file(entry: str) -> ModuleType:
    path = Path(entry).expanduser().resolve()
    if not path.is_file():
        raise failed(entry, f"no such file {path}", f"name an existing .py file or remove "
                     f"it from {VARIABLE}")
    problem = write_access_problem(path)
    if problem:
        # chmod cannot take a file back from another user, and it may hold what they wrote.
        fix = (f"read it, copy it to a file of your own and name that copy, or remove it from "
               f"{VARIABLE}" if other_owner(path) is not None else
               f"make it yours alone (chmod go-w {path}) or remove it from {VARIABLE}")
        raise failed(entry, f"{path} {problem}, so another user could change the code it runs",
                     fix)
    name = path.stem
    if not name.isidentifier():
        raise failed(entry, f"{path.name} is not a valid module name", "rename the file")
    existing = sys.modules.get(name)
    if existing is not None:
        if Path(getattr(existing, "__file__", None) or "").resolve() == path:
            return existing  # loaded before in this process
        raise failed(entry, f"its module name {name!r} is already taken by "
                     f"{getattr(existing, '__file__', None) or 'a built-in module'}",
                     "rename the file")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its rows' entry points (`name:Class`) resolve to it
    try:
        with plugin_search_path():  # what the plugin imports resolves as in its children
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        del sys.modules[name]
        raise failed(entry, f"importing it failed: {describe(error)}",
                     f"fix the plugin or remove it from {VARIABLE}") from None
    return module


def import_name(entry: str) -> ModuleType:
    if not all(part.isidentifier() for part in entry.split(".")):
        raise failed(entry, "neither a module name nor a path to a .py file",
                     "name a module (package.plugin) or a file (path/to/plugin.py)")
    try:
        with plugin_search_path():
            return importlib.import_module(entry)
    except ModuleNotFoundError as error:
        if error.name and (entry + ".").startswith(error.name + "."):
            here = Path.cwd() / entry.split(".")[0]
            if here.with_suffix(".py").exists() or here.is_dir():
                raise failed(entry, f"no module named {entry!r} (the current directory is not "
                             "searched)", f"to run the one here, name its file: "
                             f"{VARIABLE}=./{entry.replace('.', '/')}.py") from None
            raise failed(entry, f"no module named {entry!r}",
                         "install it, put its folder on PYTHONPATH, or name its .py file") from None
        raise failed(entry, f"importing it failed: {describe(error)}",
                     f"install what it needs or remove it from {VARIABLE}") from None
    except (Exception, SystemExit) as error:
        raise failed(entry, f"importing it failed: {describe(error)}",
                     f"fix the plugin or remove it from {VARIABLE}") from None


@contextmanager
def plugin_search_path() -> Iterator[None]:
    """`sys.path` without the current directory (`''`, or the absolute path `python -m` adds)
    unless PYTHONPATH names it, and with the project's checkout first, as in every child
    process (harness.run.child): a dotted name resolves the same in the parent and the child."""
    cwd = Path.cwd().resolve()
    named = {Path(p).resolve() for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}

    def implicit(entry: str) -> bool:
        return entry == "" or (Path(entry).resolve() == cwd and cwd not in named)

    saved = list(sys.path)
    sys.path[:] = [str(REPO_ROOT)] + [p for p in saved if not implicit(p)
                                      and Path(p).resolve() != REPO_ROOT]
    try:
        yield
    finally:
        added = [p for p in sys.path if p not in saved and p != str(REPO_ROOT)]
        sys.path[:] = saved + added  # keep what the plugin added for itself


def register(entry: str, module: ModuleType) -> None:
    """Add the module's benchmarks and rows to the harness's registries."""
    from harness import benchmarks, registry

    records, rows = getattr(module, "BENCHMARKS", None), getattr(module, "ROWS", None)
    if records is None and rows is None:
        raise failed(entry, f"module {module.__name__} has neither BENCHMARKS nor ROWS, so it "
                     "is not a plugin", f"name a plugin module (docs/adding.md) or remove it "
                     f"from {VARIABLE}")
    for record in records or ():
        if not isinstance(record, benchmarks.Benchmark):
            raise failed(entry, f"BENCHMARKS holds {record!r}, not a harness.benchmarks."
                         "Benchmark", "fix the plugin")
        try:
            benchmarks.register(record)
        except ValueError as error:
            raise failed(entry, str(error), "rename the plugin's benchmark") from None
    for row in rows or ():
        if not isinstance(row, registry.Row):
            raise failed(entry, f"ROWS holds {row!r}, not a harness.registry.Row",
                         "fix the plugin")
        known = next((r for r in registry.ROWS if r.name == row.name), None)
        if known is None:
            registry.ROWS.append(row)
        elif known != row:
            raise failed(entry, f"a row named {row.name!r} already exists",
                         "rename the plugin's row")


def describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
