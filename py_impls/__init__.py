"""One module per Python framework; each holds the framework-specific code of the benchmarks."""
