"""Out-of-tree benchmarks and rows: the modules named by `HARNESS_PLUGINS` (comma-separated).

A plugin module may hold `BENCHMARKS`, a list of `harness.benchmarks.Benchmark` records, and
`ROWS`, a list of `harness.registry.Row`. Both the parent and every child process load them (the
child needs a plugin benchmark's record to run it), so a plugin works with every command
without editing the harness: docs/adding.md.
"""

from __future__ import annotations

import importlib
import os

VARIABLE = "HARNESS_PLUGINS"


def load_plugins(modules: str | None = None) -> None:
    from harness import benchmarks, registry

    spec = modules if modules is not None else os.environ.get(VARIABLE, "")
    for module_name in filter(None, (m.strip() for m in spec.split(","))):
        module = importlib.import_module(module_name)
        for benchmark in getattr(module, "BENCHMARKS", ()):
            benchmarks.register(benchmark)
        for row in getattr(module, "ROWS", ()):
            if all(row.name != known.name for known in registry.ROWS):
                registry.ROWS.append(row)
