"""The shared data store (SPEC 4): download, verify and convert CIFAR-10 and IMDB into HDF5,
and generate learnable synthetic stand-ins of the same shapes where the real data are absent."""
