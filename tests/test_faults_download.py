"""Download faults against a server on 127.0.0.1 started here: a trickle, a deadline, a full
disk and an unwritable data directory each end in one clear error, and a partial file is kept
for resuming."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from harness.data.download import DownloadError, Pace, download
from tests.helpers import run_data_cli as run_cli

REPO = Path(__file__).resolve().parent.parent
BODY = bytes(range(256)) * 40  # 10,240 bytes
SHA = hashlib.sha256(BODY).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves BODY at every path, honouring Range; with `server.trickle_s` set, one byte each
    that many seconds after announcing the full length, until the client hangs up."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        server.requests.append(self.headers.get("Range"))
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        start = int(match.group(1)) if match else 0
        self.send_response(206 if match else 200)
        if match:
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        self.send_header("Content-Length", str(len(BODY) - start))
        self.end_headers()
        try:
            if server.trickle_s is None:
                self.wfile.write(BODY[start:])
                return
            for i in range(start, len(BODY)):
                self.wfile.write(BODY[i:i + 1])
                self.wfile.flush()
                time.sleep(server.trickle_s)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads, httpd.block_on_close = True, False  # never wait for a trickle
    httpd.requests, httpd.trickle_s = [], None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def flat(text: str) -> str:
    """Text without whitespace: rich wraps long lines, and folds long paths anywhere."""
    return "".join(text.split())


def resumes(server, dest: Path) -> None:
    """A rerun at full speed continues from the partial file and ends with the right bytes."""
    part = dest.with_name(dest.name + ".part")
    kept = part.stat().st_size
    assert 0 < kept < len(BODY)
    server.trickle_s = None
    download(server.url, dest, sha256=SHA)
    assert server.requests[-1] == f"bytes={kept}-"
    assert dest.read_bytes() == BODY and not part.exists()


@pytest.mark.slow
def test_a_trickling_download_ends_with_a_clear_error(server, tmp_path):
    server.trickle_s = 0.05  # 20 bytes/s; the real fault was one byte every 20 s
    dest = tmp_path / "file.bin"
    with pytest.raises(DownloadError) as caught:
        download(server.url, dest, sha256=SHA,
                 pace=Pace(stall_s=30, deadline_s=300, min_rate=1000, window_s=0.5))
    message = str(caught.value)
    assert re.search(r"download of \S+ is too slow \(\d+ bytes/s over the last \d+ s, under the "
                     r"minimum 1,000; \d+ of 10,240 bytes\)", message), message
    assert "is kept: rerun the same command to resume, or give a faster mirror" in message
    assert not dest.exists()
    resumes(server, dest)


@pytest.mark.slow
def test_a_download_past_its_deadline_ends_with_a_clear_error(server, tmp_path):
    server.trickle_s = 0.05
    dest = tmp_path / "file.bin"
    with pytest.raises(DownloadError, match=r"is too slow \(not finished within 0.5 s; \d+ of "
                                            r"10,240 bytes\)\. The partial file .* is kept"):
        download(server.url, dest, sha256=SHA,
                 pace=Pace(stall_s=30, deadline_s=0.5, min_rate=0, window_s=300))
    resumes(server, dest)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_said_plainly_and_the_partial_file_kept(server, tmp_path, capsys):
    store = tmp_path / "store"
    part = store / "downloads" / "imdb.npz.part"
    part.parent.mkdir(parents=True)
    part.symlink_to("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
    assert run_cli("data", "fetch", "imdb", "--url", server.url, "--data-dir", str(store)) == 1
    out = flat(capsys.readouterr().out)
    assert flat(f"imdb: disk full at {part}: free space and rerun; the partial file is kept "
                f"for resuming") in out
    assert part.is_symlink()  # kept
    assert not (store / "imdb.h5").exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["fetch", "import"])
def test_an_unwritable_data_directory_fails_before_starting(server, tmp_path, capsys, command):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data directory should be")
    store = blocker / "store"  # cannot be made, whoever runs this (root included)
    if command == "fetch":
        argv = ["fetch", "imdb", "--url", server.url]
    else:
        npz = tmp_path / "imdb.npz"
        reviews = np.empty(2, dtype=object)
        reviews[:] = [[4, 5], [6]]
        np.savez(npz, x_train=reviews, y_train=np.array([0, 1]), x_test=reviews,
                 y_test=np.array([1, 0]))
        argv = ["import", str(npz), "--allow-unverified"]
    assert run_cli("data", *argv, "--data-dir", str(store)) == 1
    out = flat(capsys.readouterr().out)
    assert flat(f"the data directory {store}") in out
    assert flat("is not writable") in out and flat("choose another with --data-dir") in out
    assert server.requests == []  # nothing downloaded
    assert blocker.read_text() == "a file where the data directory should be"


@pytest.mark.slow
def test_ctrl_c_during_a_fetch_is_one_line_and_keeps_the_partial_file(server, tmp_path):
    server.trickle_s = 0.05  # slow enough to be interrupted mid-download
    store = tmp_path / "store"
    part = store / "downloads" / "imdb.npz.part"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "data", "fetch", "imdb", "--url", server.url,
         "--data-dir", str(store)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, "COLUMNS": "300"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not part.exists():  # made as bytes arrive
            time.sleep(0.05)
        assert part.exists(), "the download never started"
        time.sleep(0.5)  # a few bytes in
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    assert out.strip().splitlines()[-1] == (
        "Interrupted: the data already there are unchanged; rerun the same command to finish "
        "(a partial download resumes where it stopped).")
    assert part.exists() and part.stat().st_size < len(BODY)  # kept for resuming
    assert not (store / "imdb.h5").exists()
