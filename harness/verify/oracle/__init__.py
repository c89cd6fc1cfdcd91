"""The NumPy oracle (docs/benchmarks.md §9-10): the three networks in plain float64 NumPy, written to be read.

`cnn`, `gru` and `resnet50` each take canonical parameters (PyTorch `state_dict` names and
layouts, see `harness.verify.weights`) and return every named intermediate activation, so `verify`
can say which layer of an implementation first departs from it. Nothing here is fast; it is
meant to be obviously right, and it is itself tested against hand-computed cases.
"""
