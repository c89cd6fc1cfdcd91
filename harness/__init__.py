"""The Rosetta Stone of deep-learning frameworks: one harness, the same benchmarks everywhere.

The parent process (the CLI) never imports a framework; each timed run happens in a fresh child
process (`harness.run.worker`) that imports exactly one implementation.
"""

__version__ = "0.1.0"
