"""Who may change what the harness runs: a path an environment variable names, whose code the
harness imports or executes (a plugin file, the folder of the isolated environments), must be
owned by you or root and not writable by group or others. Otherwise another local user could put
their code where the harness runs it as you (README, "Environment variables and the trust
model")."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def write_access_problem(path: Path) -> str | None:
    """None when only you (or root) can change `path`; else why not, in a few words."""
    try:
        info = path.stat()
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if not hasattr(os, "getuid"):  # Windows: no POSIX owner and mode to check
        return None
    if info.st_uid not in (os.getuid(), 0):
        return f"is owned by another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None
