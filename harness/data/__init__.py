"""The shared data store (docs/benchmarks.md §6): download, verify and convert CIFAR-10 and IMDB into HDF5,
and generate learnable synthetic stand-ins of the same shapes where the real data are absent."""
