"""Where the real data come from (docs/benchmarks.md §6): canonical URLs, archive checksums, file names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str  # the data set: "cifar10" or "imdb"
    url: str
    archive: str  # file name of the downloaded archive
    checksum_algo: str  # "md5" or "sha256", as the publisher states it
    checksum: str
    h5_name: str  # the converted file in the data directory

    def checksum_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `download.download` and `download.file_digest`."""
        return {self.checksum_algo: self.checksum}


SOURCES: dict[str, Source] = {
    "cifar10": Source(
        name="cifar10",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        archive="cifar-10-python.tar.gz",
        checksum_algo="md5",
        checksum="c58f30108f718f92721af3b95e74349a",
        h5_name="cifar10.h5",
    ),
    "imdb": Source(
        name="imdb",
        url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz",
        archive="imdb.npz",
        checksum_algo="sha256",
        checksum="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
        h5_name="imdb.h5",
    ),
}

DATASETS = tuple(SOURCES)
