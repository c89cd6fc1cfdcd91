"""Downloads from a local HTTP server: verified, resumable, never a bad file at the destination."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from harness.commands import data as commands
from harness.data import sources
from harness.data.download import ChecksumError, DownloadError, download
from harness.data.store import load_dataset

BODY = bytes(range(256)) * 1000  # 256,000 bytes
SHA = hashlib.sha256(BODY).hexdigest()
MD5 = hashlib.md5(BODY).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves `server.files`; honours Range if `server.ranges_ok`; cuts the body after
    `server.truncate_at` bytes (announcing the full length) if that is set."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        server.requests.append(self.headers.get("Range"))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
        if match and server.ranges_ok:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if server.truncate_at is not None:
            payload = payload[: server.truncate_at]
        self.wfile.write(payload)  # HTTP/1.0: the connection closes after this

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files = {"/file.bin": BODY}
    httpd.requests, httpd.ranges_ok, httpd.truncate_at = [], True, None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_good_download_is_verified_and_reused(server, tmp_path):
    dest = tmp_path / "d" / "file.bin"
    seen = []
    assert download(f"{server.url}/file.bin", dest, sha256=SHA,
                    progress=lambda done, total: seen.append((done, total))) == dest
    assert dest.read_bytes() == BODY
    assert seen[-1] == (len(BODY), len(BODY))
    assert not dest.with_name("file.bin.part").exists()
    # Already there with the right checksum: no request at all.
    download(f"{server.url}/file.bin", dest, md5=MD5)
    assert len(server.requests) == 1


def test_checksum_mismatch_is_refused_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "file.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as caught:
        download(f"{server.url}/file.bin", dest, sha256=wrong)
    message = str(caught.value)
    assert "checksum mismatch" in message and wrong in message and SHA in message
    assert caught.value.expected == wrong and caught.value.actual == SHA
    assert list(tmp_path.iterdir()) == []  # neither the file nor a .part


def test_truncated_download_is_refused_then_resumed(server, tmp_path):
    dest = tmp_path / "file.bin"
    server.truncate_at = 100_000
    with pytest.raises(DownloadError, match="truncated.*rerun the same command to resume"):
        download(f"{server.url}/file.bin", dest, sha256=SHA)
    assert not dest.exists()
    assert (tmp_path / "file.bin.part").stat().st_size == 100_000

    server.truncate_at = None
    download(f"{server.url}/file.bin", dest, sha256=SHA)
    assert server.requests[-1] == "bytes=100000-"  # resumed, not started over
    assert dest.read_bytes() == BODY and not (tmp_path / "file.bin.part").exists()


def test_server_without_range_restarts_cleanly(server, tmp_path):
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(b"stale bytes from another file")
    server.ranges_ok = False
    download(f"{server.url}/file.bin", dest, md5=MD5)
    assert dest.read_bytes() == BODY


def test_resume_of_a_wrong_prefix_fails_the_checksum_and_cleans_up(server, tmp_path):
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(b"x" * 1000)  # not a prefix of BODY
    with pytest.raises(ChecksumError):
        download(f"{server.url}/file.bin", dest, sha256=SHA)
    assert list(tmp_path.iterdir()) == []
    download(f"{server.url}/file.bin", dest, sha256=SHA)  # the rerun starts over and succeeds
    assert dest.read_bytes() == BODY


def test_http_error_is_a_download_error(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server.url}/nothing", tmp_path / "x", sha256=SHA)


def test_fetch_command_end_to_end(server, tmp_path, monkeypatch):
    """`data fetch imdb --url` downloads, verifies against the (patched) canonical checksum and
    converts; a wrong checksum is refused with exit code 1 and no data file."""
    npz = tmp_path / "imdb.npz"
    reviews = np.empty(2, dtype=object)
    reviews[:] = [[4, 5, 6], [7] * 200]
    np.savez(npz, x_train=reviews, y_train=np.array([0, 1]), x_test=reviews,
             y_test=np.array([1, 0]))
    server.files["/imdb.npz"] = npz.read_bytes()
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    store_dir = tmp_path / "store"
    argv = ["data", "fetch", "imdb", "--url", f"{server.url}/imdb.npz",
            "--data-dir", str(store_dir)]

    args = parser.parse_args(argv)
    assert args.func(args) == 1  # the canonical checksum is the real file's
    assert not (store_dir / "imdb.h5").exists()

    digest = hashlib.sha256(npz.read_bytes()).hexdigest()
    monkeypatch.setitem(sources.SOURCES, "imdb",
                        dataclasses.replace(sources.SOURCES["imdb"], checksum=digest))
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    dataset = load_dataset("imdb", kind="real", data_dir=store_dir)
    assert dataset.x_train.shape == (2, 150) and dataset.attrs["verified"] is True
    assert dataset.attrs["source_url"] == f"{server.url}/imdb.npz"
    assert (store_dir / "downloads" / "imdb.npz").read_bytes() == npz.read_bytes()
    requests = len(server.requests)
    args = parser.parse_args(argv)
    assert args.func(args) == 0 and len(server.requests) == requests  # present: nothing to do


def test_fetch_replaces_unverified_data_with_the_verified_download(server, tmp_path, monkeypatch,
                                                                   capsys):
    """A store imported with --allow-unverified is not "present and verified": fetch downloads
    the canonical file and replaces it (once the new file has been written and read back)."""
    store_dir = tmp_path / "store"
    unverified = tmp_path / "other.npz"
    reviews = np.empty(2, dtype=object)
    reviews[:] = [[4, 5], [6]]
    np.savez(unverified, x_train=reviews, y_train=np.array([1, 1]), x_test=reviews,
             y_test=np.array([1, 1]))
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())

    def run(*argv: str) -> int:
        args = parser.parse_args(["data", *argv, "--data-dir", str(store_dir)])
        return args.func(args)

    assert run("import", str(unverified), "--allow-unverified") == 0
    assert load_dataset("imdb", kind="real", data_dir=store_dir).kind == "real, unverified"

    canonical = tmp_path / "imdb.npz"
    reviews[:] = [[7, 8, 9], [10] * 200]
    np.savez(canonical, x_train=reviews, y_train=np.array([0, 1]), x_test=reviews,
             y_test=np.array([1, 0]))
    server.files["/imdb.npz"] = canonical.read_bytes()
    digest = hashlib.sha256(canonical.read_bytes()).hexdigest()
    monkeypatch.setitem(sources.SOURCES, "imdb",
                        dataclasses.replace(sources.SOURCES["imdb"], checksum=digest))
    capsys.readouterr()
    assert run("fetch", "imdb", "--url", f"{server.url}/imdb.npz") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "present and verified" not in out
    assert "holds unverified data (imported with --allow-unverified): replacing them" in out
    assert len(server.requests) == 1
    dataset = load_dataset("imdb", kind="real", data_dir=store_dir)
    assert dataset.kind == "real" and dataset.attrs["verified"] is True
    assert sorted(dataset.y_train.tolist()) == [0, 1]  # the new labels, not [1, 1]
