"""The consoles every command prints through, so that one rule reaches all of them: on a
terminal, its width; into a pipe or a file, wide enough that tables keep their shape and a
failure reason stays on one greppable line. `errors` is standard error, for messages."""

from __future__ import annotations

from rich.console import Console

PIPE_WIDTH = 200

console = Console()
if not console.is_terminal:
    console.width = max(console.width, PIPE_WIDTH)
errors = Console(stderr=True, soft_wrap=True)  # one message a line, however long
