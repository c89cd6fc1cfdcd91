"""The console the commands print to."""

from __future__ import annotations

from rich.console import Console

console = Console()
if not console.is_terminal:  # a pipe or a file: keep failure reasons and tables on one line
    console.width = max(console.width, 200)
