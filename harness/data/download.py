"""Resumable, verified downloads: only a file whose checksum matches ever reaches `dest`.

The bytes go to `dest.part`; an interrupted download leaves the `.part`, and the next call
resumes it with an HTTP Range request (or starts over when the server ignores Range). After the
last byte the checksum is checked; a mismatch deletes the `.part`, a match renames it to `dest`.
A download that stalls, trickles below a minimum rate or outlives its deadline ends with an
error, as does a full disk; each keeps the `.part` for resuming.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 16


@dataclass(frozen=True)
class Pace:
    """How long a download may take. Each failure keeps the partial file, so a rerun resumes."""

    stall_s: float = 60.0  # no byte for this long: the connection is dead
    deadline_s: float = 4 * 3600.0  # the whole download, restarts included
    min_rate: float = 10_000.0  # bytes/s, averaged over each `window_s`: below it, a trickle
    window_s: float = 60.0


PACE = Pace()

Progress = Callable[[int, "int | None"], None]  # (bytes so far, total bytes or None)


class DownloadError(Exception):
    """A download failed; the message says whether rerunning resumes it."""


class ChecksumError(DownloadError):
    """The downloaded bytes are not the expected file."""

    def __init__(self, path: Path, algo: str, expected: str, actual: str):
        self.algo, self.expected, self.actual = algo, expected, actual
        super().__init__(f"{path.name}: {algo} checksum mismatch (expected {expected}, got "
                         f"{actual}); the file was deleted. The source or a proxy served "
                         f"different bytes: check the URL and try again.")


def file_digest(path: Path, algo: str) -> str:
    digest = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def expected_checksum(md5: str | None, sha256: str | None) -> tuple[str, str] | None:
    if sha256:
        return "sha256", sha256.lower()
    if md5:
        return "md5", md5.lower()
    return None


def download(url: str, dest: Path, *, md5: str | None = None, sha256: str | None = None,
             progress: Progress | None = None, pace: Pace = PACE) -> Path:
    """Download `url` to `dest`, resuming a previous partial download; verify before renaming.

    A file already at `dest` whose checksum matches is returned without downloading.
    """
    dest = Path(dest)
    check = expected_checksum(md5, sha256)
    if dest.exists() and check and file_digest(dest, check[0]) == check[1]:
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create {dest.parent} ({error}): choose a writable data "
                            f"directory with --data-dir") from error
    part = dest.with_name(dest.name + ".part")

    fetch_to_part(url, part, progress, pace, time.monotonic() + pace.deadline_s)
    if check:
        actual = file_digest(part, check[0])
        if actual != check[1]:
            part.unlink()
            raise ChecksumError(dest, check[0], check[1], actual)
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, dest)
    return dest


def fetch_to_part(url: str, part: Path, progress: Progress | None, pace: Pace,
                  deadline: float) -> None:
    """Bring `part` to the full length of `url`, resuming from its current size if possible."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "rosetta-harness"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=pace.stall_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the .part is no prefix of this file: start over
            part.unlink()
            return fetch_to_part(url, part, progress, pace, deadline)
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"{url}: cannot connect ({reason}); check the network or give "
                            f"a mirror with --url, or download it yourself and use "
                            f"`python -m harness data import PATH`") from error

    with response:
        if offset and response.status == 206:
            if content_range_start(response) != offset:  # not the part we asked for
                response.close()
                part.unlink()
                return fetch_to_part(url, part, progress, pace, deadline)
            mode, done = "ab", offset
        else:  # the server ignored the Range header (or there was none): start over
            mode, done = "wb", 0
        length = response.headers.get("Content-Length")
        total = done + int(length) if length is not None else None
        if length is not None:
            check_space(part, int(length))
        if progress:
            progress(done, total)
        window_start, window_done = time.monotonic(), done
        try:
            with open(part, mode) as f:
                # read1: at most one read from the socket, so a trickle cannot hold a call
                # for longer than `stall_s` while the deadline and rate go unchecked.
                while block := response.read1(CHUNK):
                    f.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
                    now = time.monotonic()
                    if now > deadline:
                        raise too_slow(url, part, done, total,
                                       f"not finished within {pace.deadline_s:g} s")
                    if now - window_start >= pace.window_s:
                        rate = (done - window_done) / (now - window_start)
                        if rate < pace.min_rate:
                            raise too_slow(url, part, done, total,
                                           f"{rate:,.0f} bytes/s over the last "
                                           f"{now - window_start:.0f} s, under the minimum "
                                           f"{pace.min_rate:,.0f}")
                        window_start, window_done = now, done
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise disk_full(part) from error
            raise truncated(url, part, done, total, error) from error
        except http.client.HTTPException as error:
            raise truncated(url, part, done, total, error) from error
    if total is not None and done < total:
        raise truncated(url, part, done, total, "connection closed early")


def check_space(part: Path, needed: int) -> None:
    """Refuse to start when the disk cannot hold the rest of the file."""
    try:
        free = shutil.disk_usage(part.parent).free
    except OSError:
        return  # unknown: the write itself will tell
    if free < needed:
        raise DownloadError(f"disk full at {part.parent}: {needed:,} bytes to download, "
                            f"{free:,} free; free space and rerun")


def disk_full(part: Path) -> DownloadError:
    return DownloadError(f"disk full at {part}: free space and rerun; the partial file is kept "
                         f"for resuming")


def too_slow(url: str, part: Path, done: int, total: int | None, why: str) -> DownloadError:
    of = f" of {total:,}" if total is not None else ""
    return DownloadError(f"download of {url} is too slow ({why}; {done:,}{of} bytes). The "
                         f"partial file {part} is kept: rerun the same command to resume, or "
                         f"give a faster mirror with --url.")


def truncated(url: str, part: Path, done: int, total: int | None, why: object) -> DownloadError:
    of = f" of {total:,}" if total is not None else ""
    return DownloadError(f"download of {url} is truncated ({done:,}{of} bytes; {why}). "
                         f"The partial file {part} is kept: rerun the same command to resume.")


def content_range_start(response: http.client.HTTPResponse) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None
