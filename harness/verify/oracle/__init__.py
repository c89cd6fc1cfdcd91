"""The NumPy oracle (docs/benchmarks.md §10): each benchmark's network in plain float64 NumPy,
written to be read.

Each model module (`cnn`, `gru`, `transformer`, `resnet50`; a plugin benchmark names its own) is what its
benchmark record's `oracle` points at, and provides:

- `ACTIVATIONS`: the named intermediate outputs, in order; `LOGITS` (training): which is the
  logits;
- `parameter_shapes()`: every canonical tensor (PyTorch `state_dict` names and layouts) and its
  shape; `initial_weights(rng)`: the seeded canonical weights `verify` uses
  (`harness.verify.weights` writes them to HDF5);
- `sample_inputs(rng, batch, image_size)`: `verify`'s batch, `{"x": ..., "y": ...}`;
- `forward(params, x)`: every activation by name, so `verify` can say which layer of an
  implementation first departs from it;
- `train_step(params, state, x, y)` (training): `(loss, new params, optimizer state)`.

Nothing here is fast; it is meant to be obviously right, and it is itself tested against
hand-computed cases.
"""
