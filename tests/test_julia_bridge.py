"""The Python side of the Julia rows (harness/julia/bridge.py), tested without Julia: array
layouts, 1-based shifts, weight conversion, readiness with Julia absent or the wrong version,
and the adapters' calls, made against a stand-in for the Julia module."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from harness.julia import bridge as jb
from harness.julia import constraints
from harness.julia import readiness as jr
from harness.julia import layouts as jl
from harness import benchmarks
from harness.config import CNNConfig, InferenceConfig, RNNConfig, TransformerConfig
from harness.interface import InferenceImplementation, TrainingData, TrainingImplementation
from harness.verify.oracle import gru as gru_oracle
from harness.verify.oracle import transformer as transformer_oracle
from tests.helpers import without_julia

RNG = np.random.default_rng(0)


# -- layouts -----------------------------------------------------------------------------------

def test_nchw_in_c_order_is_whcn_column_major_without_a_copy():
    x = RNG.random((2, 3, 4, 5), dtype=np.float32)  # N, C, H, W
    v = jl.julia_images(x)
    assert v.shape == (5, 4, 3, 2)  # W, H, C, N
    assert v.flags.f_contiguous and not v.flags.owndata
    assert np.shares_memory(v, x)
    assert v.strides == (4, 4 * 5, 4 * 5 * 4, 4 * 5 * 4 * 3)  # W moves fastest
    # x's own memory, read column-major with the dimensions reversed, is that array
    column_major = np.ndarray((5, 4, 3, 2), dtype=np.float32, buffer=x, order="F")
    np.testing.assert_array_equal(column_major, v)
    for n, c, h, w in [(0, 0, 0, 0), (1, 2, 3, 4), (1, 0, 2, 3)]:
        assert v[w, h, c, n] == x[n, c, h, w]


def test_images_must_be_c_ordered_nchw():
    with pytest.raises(ValueError, match="C-contiguous NCHW"):
        jl.julia_images(np.asfortranarray(RNG.random((2, 3, 4, 5), dtype=np.float32)))
    with pytest.raises(ValueError, match="NCHW"):
        jl.julia_images(np.zeros((3, 4, 5), dtype=np.float32))


def test_tokens_become_one_review_a_column():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)  # (N, T)
    v = jl.julia_tokens(x)
    assert v.shape == (4, 3) and v.flags.f_contiguous and np.shares_memory(v, x)
    np.testing.assert_array_equal(v[:, 1], x[1])


def test_labels_shift_to_one_based():
    y = np.array([0, 9, 3], dtype=np.int32)
    out = jl.julia_labels(y, 10)
    np.testing.assert_array_equal(out, [1, 10, 4])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(y, [0, 9, 3])  # the caller's array is left alone


@pytest.mark.parametrize("bad, match", [
    (np.array([0, 10]), "0..9"), (np.array([-1, 2]), "0..9"),
    (np.array([0.0, 1.0]), "integer"), (np.zeros((2, 2), dtype=int), "1-D")])
def test_bad_labels_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        jl.julia_labels(bad, 10)


def test_permutation_shifts_to_one_based():
    order = np.random.default_rng(1).permutation(8)[:6].astype(np.int64)
    out = jl.julia_order(order, n=8, batch_size=3)
    np.testing.assert_array_equal(out, order + 1)
    assert out.min() >= 1 and out.max() <= 8


@pytest.mark.parametrize("order, match", [
    (np.arange(5), "whole number of batches"), (np.array([0, 8, 1]), "rows 0..8 of 8"),
    (np.array([-1, 0, 1]), "rows -1"), (np.array([0.0, 1.0, 2.0]), "integer")])
def test_bad_permutations_are_refused(order, match):
    with pytest.raises(ValueError, match=match):
        jl.julia_order(order, n=8, batch_size=3)


def test_half_open_range_becomes_one_based_closed():
    assert jl.julia_range(0, 32) == (1, 32)
    assert jl.julia_range(32, 64) == (33, 64)
    with pytest.raises(ValueError):
        jl.julia_range(5, 5)


def test_columns_from_julia_become_rows():
    julia_logits = np.asfortranarray(RNG.random((10, 7), dtype=np.float32))  # (classes, N)
    out = jl.from_julia_columns(julia_logits, rows=7, width=10)
    assert out.shape == (7, 10) and out.flags.c_contiguous
    np.testing.assert_array_equal(out[3], julia_logits[:, 3])
    with pytest.raises(ValueError, match=r"expected \(10, 8\)"):
        jl.from_julia_columns(julia_logits, rows=8, width=10)


# -- weights -----------------------------------------------------------------------------------

def correlate(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """2-D cross-correlation, 'valid' (what PyTorch's and cuDNN's conv compute)."""
    kh, kw = k.shape
    return np.array([[np.sum(x[i:i + kh, j:j + kw] * k) for j in range(x.shape[1] - kw + 1)]
                     for i in range(x.shape[0] - kh + 1)])


def convolve(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """2-D true convolution, 'valid' (what Flux's Conv and Knet's conv4 mode=0 compute)."""
    return correlate(x, k[::-1, ::-1])


def test_conv_weight_oihw_becomes_whio():
    w = RNG.random((4, 3, 2, 5), dtype=np.float32)  # O, I, kH, kW
    j = jl.julia_conv_weight(w, flip=False)
    assert j.shape == (5, 2, 3, 4) and j.flags.f_contiguous
    for o, i, a, b in [(0, 0, 0, 0), (3, 2, 1, 4), (1, 1, 0, 3)]:
        assert j[b, a, i, o] == w[o, i, a, b]


def test_flipped_kernel_makes_a_true_convolution_compute_the_canonical_one():
    w = RNG.random((1, 1, 3, 3)).astype(np.float32)
    x = RNG.random((6, 5)).astype(np.float32)
    j = jl.julia_conv_weight(w, flip=True)  # (kW, kH, 1, 1)
    julia_kernel = j[:, :, 0, 0].T  # back to (kH, kW) to compute in NumPy
    np.testing.assert_allclose(convolve(x, julia_kernel), correlate(x, w[0, 0]), rtol=1e-6)
    unflipped = jl.julia_conv_weight(w, flip=False)[:, :, 0, 0].T
    np.testing.assert_allclose(correlate(x, unflipped), correlate(x, w[0, 0]))
    assert not np.allclose(convolve(x, unflipped), correlate(x, w[0, 0]))


def test_dense_weight_keeps_out_in():
    w = RNG.random((3, 5), dtype=np.float32)
    j = jl.julia_dense_weight(w)
    assert j.shape == (3, 5) and j.flags.f_contiguous
    np.testing.assert_array_equal(j, w)  # the same (out, in) values, only the memory order differs
    x = RNG.random(5, dtype=np.float32)
    # Julia's W * x on a column vector; float32 sums whose order BLAS picks per CPU
    np.testing.assert_allclose(j @ x, w @ x, rtol=1e-6)


def knet_rnnparam(w: np.ndarray, inputs: int, hidden: int, gate: int, par: int) -> np.ndarray:
    """Knet's `rnnparam(r, 1, id, par)` for a one-layer GRU (src/ops20/rnn.jl), in NumPy:
    matrices first (ids 1-3 (in, hidden), ids 4-6 (hidden, hidden), each a column-major
    reshape(view, :, hidden)), then the six biases."""
    if par == 1:
        lengths = [inputs * hidden] * 3 + [hidden * hidden] * 3
        end = sum(lengths[:gate])
        flat = w[end - lengths[gate - 1]:end]
        return flat.reshape((-1, hidden), order="F")
    start = len(w) - 6 * hidden + (gate - 1) * hidden
    return w[start:start + hidden]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_knet_gru_vector_puts_pytorch_gates_where_knet_reads_them():
    e, h = 5, 4
    p = {"gru.weight_ih_l0": RNG.standard_normal((3 * h, e)),
         "gru.weight_hh_l0": RNG.standard_normal((3 * h, h)),
         "gru.bias_ih_l0": RNG.standard_normal(3 * h), "gru.bias_hh_l0": RNG.standard_normal(3 * h)}
    w = jl.knet_gru_vector(*p.values())
    assert w.shape == (3 * h * e + 3 * h * h + 6 * h,) and w.dtype == np.float32
    for gate in range(3):  # PyTorch r, z, n = Knet ids 1, 2, 3 (input) and 4, 5, 6 (hidden)
        rows = slice(gate * h, (gate + 1) * h)
        np.testing.assert_array_equal(knet_rnnparam(w, e, h, gate + 1, 1),
                                      p["gru.weight_ih_l0"][rows].T.astype(np.float32))
        np.testing.assert_array_equal(knet_rnnparam(w, e, h, gate + 4, 1),
                                      p["gru.weight_hh_l0"][rows].T.astype(np.float32))
        np.testing.assert_array_equal(knet_rnnparam(w, e, h, gate + 1, 2),
                                      p["gru.bias_ih_l0"][rows].astype(np.float32))
        np.testing.assert_array_equal(knet_rnnparam(w, e, h, gate + 4, 2),
                                      p["gru.bias_hh_l0"][rows].astype(np.float32))

    # Knet's documented GRU formulas on those slices compute the oracle's (PyTorch's) step.
    x, h0 = RNG.standard_normal((2, e)), RNG.standard_normal((2, h))
    W = {k: knet_rnnparam(w, e, h, k, 1).T.astype(np.float64) for k in range(1, 7)}
    b = {k: knet_rnnparam(w, e, h, k, 2).astype(np.float64) for k in range(1, 7)}
    i = sigmoid(x @ W[2].T + h0 @ W[5].T + b[2] + b[5])  # Knet's "input gate" = z
    r = sigmoid(x @ W[1].T + h0 @ W[4].T + b[1] + b[4])
    n = np.tanh(x @ W[3].T + r * (h0 @ W[6].T + b[6]) + b[3])
    knet_h = (1 - i) * n + i * h0
    expected, _ = gru_oracle.gru_step({k: v.astype(np.float32).astype(np.float64)
                                       for k, v in p.items()}, x, h0)
    np.testing.assert_allclose(knet_h, expected, rtol=1e-5, atol=1e-6)


def test_knet_gru_vector_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="GRU shapes"):
        jl.knet_gru_vector(np.zeros((12, 5)), np.zeros((12, 3)), np.zeros(12), np.zeros(12))


def rnn_params(vocab=11, e=5, h=4):
    return {"embedding.weight": RNG.standard_normal((vocab, e)),
            "gru.weight_ih_l0": RNG.standard_normal((3 * h, e)),
            "gru.weight_hh_l0": RNG.standard_normal((3 * h, h)),
            "gru.bias_ih_l0": RNG.standard_normal(3 * h),
            "gru.bias_hh_l0": RNG.standard_normal(3 * h),
            "fc.weight": RNG.standard_normal((2, h)), "fc.bias": RNG.standard_normal(2)}


def test_rnn_weights_per_flavor():
    p = rnn_params()
    knet = jl.julia_weights("rnn", p, "knet")
    assert set(knet) == {"embedding.weight", "gru.w", "fc.weight", "fc.bias"}
    assert knet["embedding.weight"].shape == (5, 11)  # one word a column
    np.testing.assert_allclose(knet["embedding.weight"][:, 7], p["embedding.weight"][7], rtol=1e-6)
    flux = jl.julia_weights("rnn", p, "flux")
    assert set(flux) == {"embedding.weight", "gru.Wi", "gru.Wh", "gru.bi", "gru.bh",
                         "fc.weight", "fc.bias"}
    np.testing.assert_allclose(flux["gru.Wi"], p["gru.weight_ih_l0"], rtol=1e-6)
    assert all(a.dtype == np.float32 and a.flags.f_contiguous for a in flux.values())


def test_cnn_and_resnet_kernels_flip_for_flux_only():
    p = {"conv1.weight": RNG.standard_normal((50, 3, 3, 3)), "conv1.bias": np.zeros(50),
         "fc1.weight": RNG.standard_normal((512, 6400))}
    knet, flux = jl.julia_weights("cnn", p, "knet"), jl.julia_weights("cnn", p, "flux")
    assert knet["conv1.weight"].shape == flux["conv1.weight"].shape == (3, 3, 3, 50)
    np.testing.assert_allclose(knet["conv1.weight"][0, 1, 2, 7], p["conv1.weight"][7, 2, 1, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(flux["conv1.weight"][0, 1, 2, 7], p["conv1.weight"][7, 2, 1, 2],
                               rtol=1e-6)  # kH flipped (1 -> 1), kW flipped (0 -> 2)
    assert knet["fc1.weight"].shape == (512, 6400)
    with pytest.raises(ValueError, match="unknown Julia flavor"):
        jl.julia_weights("cnn", p, "mxnet.jl")


def cnn_params():
    shapes = {"conv1.weight": (50, 3, 3, 3), "conv1.bias": (50,), "conv2.weight": (50, 50, 3, 3),
              "conv2.bias": (50,), "fc1.weight": (512, 6400), "fc1.bias": (512,),
              "fc2.weight": (10, 512), "fc2.bias": (10,)}
    return {k: RNG.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def as_julia_stores_them(params: dict[str, np.ndarray], flavor: str) -> dict[str, np.ndarray]:
    """What a flavor's get_weights hands back: its own shapes (Knet keeps conv biases as
    (1, 1, C, 1)), arriving as NumPy arrays of the same logical shape."""
    out = {}
    for name, value in params.items():
        if flavor == "knet" and name.startswith("conv") and name.endswith(".bias"):
            value = value.reshape((1, 1, -1, 1), order="F")
        out[name] = np.array(value, order="F")
    return out


def transformer_params(vocab: int = 40) -> dict[str, np.ndarray]:
    """The canonical tensors of docs/benchmarks.md §3b (a smaller vocabulary), each distinct."""
    shapes = {**transformer_oracle.parameter_shapes(), "embedding.weight": (vocab, 128)}
    return {k: RNG.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def test_embedding_tables_come_from_the_oracle_not_the_model_name():
    assert jl.embedding_tables("transformer") == ("embedding.weight", "position.weight")
    assert jl.embedding_tables("rnn") == ("embedding.weight",)
    assert jl.embedding_tables("cnn") == ()


@pytest.mark.parametrize("flavor", ["knet", "flux"])
def test_transformer_weights_to_julia(flavor):
    p = transformer_params()
    julia = jl.julia_weights("transformer", p, flavor)
    assert set(julia) == set(p)  # canonical names: both files store every tensor by them
    assert julia["embedding.weight"].shape == (128, 40)  # one token a column
    assert julia["position.weight"].shape == (128, 150)  # one position a column
    np.testing.assert_array_equal(julia["position.weight"][:, 7], p["position.weight"][7])
    for name in ("blocks.1.attn.query.weight", "blocks.0.mlp.fc1.weight", "fc.weight"):
        np.testing.assert_array_equal(julia[name], p[name])  # dense (out, in), as PyTorch's
    assert julia["blocks.0.mlp.fc2.weight"].shape == (128, 512)
    assert all(a.dtype == np.float32 and a.flags.f_contiguous for a in julia.values())


@pytest.mark.parametrize("flavor", ["knet", "flux"])
@pytest.mark.parametrize("model, params", [("cnn", cnn_params), ("rnn", rnn_params),
                                           ("transformer", transformer_params)])
def test_weights_come_back_canonical(flavor, model, params):
    canonical = {k: v.astype(np.float32) for k, v in params().items()}
    julia = as_julia_stores_them(jl.julia_weights(model, canonical, flavor), flavor)
    back = jl.canonical_weights(model, julia, flavor)
    assert set(back) == set(canonical)
    for name, value in canonical.items():
        assert back[name].shape == value.shape and back[name].flags.c_contiguous, name
        np.testing.assert_array_equal(back[name], value, err_msg=name)


# -- readiness ---------------------------------------------------------------------------------

def fake_julia(directory: Path, version_line: str, name: str = "julia") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def no_julia(monkeypatch, tmp_path):
    """A PATH with no julia on it, no julia variables, juliacall bridge, and environments in
    tmp_path (so a real Manifest.toml never leaks in)."""
    without_julia(monkeypatch, tmp_path, tmp_path / "empty-bin")
    return tmp_path


def declaration(version: str = "0.9.28", julia: str = "~1.9,^1.10.3",
                pythoncall: str = "0.9.28", openssl: str | None = None) -> constraints.Declaration:
    """What a juliacall declares: its Julia versions, PythonCall exactly, OpenSSL_jll (if
    given) within a range."""
    packages = [constraints.PackageConstraint("PythonCall", "6099a3de-0909-46bc-b1f4-468b9a2dfc0d",
                                              f"={pythoncall}")]
    if openssl:
        packages.append(constraints.PackageConstraint("OpenSSL_jll", constraints.OPENSSL_JLL,
                                                      openssl))
    return constraints.Declaration(version, (julia,), tuple(packages))


def write_manifest(flavor: str, packages: dict[str, str], format2: bool = True) -> None:
    lines = ['julia_version = "1.10.4"', 'manifest_format = "2.0"'] if format2 else []
    for name, version in packages.items():
        lines += [f"[[{'deps.' if format2 else ''}{name}]]", f'version = "{version}"']
    (jr.FLAVORS[flavor].project / "Manifest.toml").write_text("\n".join(lines) + "\n")


def test_readiness_without_julia_names_what_is_missing_and_the_fix(no_julia):
    ready, reason = jr.julia_readiness("flux")
    assert not ready
    assert reason.startswith("julia not found on PATH (need Julia 1.6-1.9 for Knet / >= 1.10 "
                             "for Flux): install it (juliaup")
    # Flux: the LTS, not `release` (1.12+, refused beside a Python on OpenSSL < 3.5)
    assert "`juliaup add 1.10` (LTS; 1.11 also works) for Flux" in reason
    assert "release" not in reason
    assert "install juliacall" in reason and "`python -m harness setup julia`" in reason
    # one reason for both rows (shown once under `list`); each row's fix names its juliacall
    _, knet_reason = jr.julia_readiness("knet")
    assert knet_reason == reason
    assert jr.julia_problem("knet") == knet_reason
    from harness import registry
    assert 'pip install "juliacall<=0.9.28"' in registry.by_name("knet").install
    assert '.[julia]' in registry.by_name("flux").install


def test_readiness_refuses_a_julia_of_the_wrong_version(no_julia, monkeypatch):
    fake_julia(no_julia / "bin", "julia version 1.11.2")
    monkeypatch.setenv("PATH", str(no_julia / "bin"))
    ready, reason = jr.julia_readiness("knet")
    assert not ready
    assert "Knet.jl needs Julia 1.6-1.9" in reason and "is Julia 1.11.2" in reason
    assert "HARNESS_JULIA_KNET" in reason and "juliaup add 1.9" in reason
    # the same Julia is fine for Flux: the next missing piece is reported instead
    monkeypatch.setattr(jr, "juliacall_declaration", lambda: None)
    ready, reason = jr.julia_readiness("flux")
    assert not ready and reason.startswith("juliacall is not installed")


def test_a_per_flavor_variable_overrides_path(no_julia, monkeypatch):
    fake_julia(no_julia / "bin", "julia version 1.11.2")
    old = fake_julia(no_julia / "old", "julia version 1.9.4")
    monkeypatch.setenv("PATH", str(no_julia / "bin"))
    monkeypatch.setenv("HARNESS_JULIA_KNET", str(old))
    assert jr.find_julia(jr.FLAVORS["knet"]) == (str(old), "HARNESS_JULIA_KNET")
    assert jr.find_julia(jr.FLAVORS["flux"])[1] == "PATH"
    monkeypatch.setenv("HARNESS_JULIA", str(no_julia / "missing" / "julia"))
    path, reason = jr.find_julia(jr.FLAVORS["flux"])
    assert path is None and reason.startswith("HARNESS_JULIA=") and "not an executable" in reason


def test_a_binary_that_prints_no_version_is_reported(no_julia, monkeypatch):
    fake_julia(no_julia / "bin", "something else")
    monkeypatch.setenv("PATH", str(no_julia / "bin"))
    ready, reason = jr.julia_readiness("flux")
    assert not ready and "did not print `julia version X.Y.Z`" in reason


def test_readiness_checks_juliacall_against_the_julia_version(no_julia, monkeypatch):
    fake_julia(no_julia / "bin", "julia version 1.9.4")
    monkeypatch.setenv("PATH", str(no_julia / "bin"))
    monkeypatch.setattr(jr, "juliacall_declaration",
                        lambda: declaration("0.9.34", "^1.10.3", "0.9.34"))
    ready, reason = jr.julia_readiness("knet")
    assert not ready
    assert "juliacall 0.9.34 supports Julia ^1.10.3, not 1.9.4" in reason
    assert '"juliacall<=0.9.28"' in reason


def test_readiness_wants_an_instantiated_environment_with_matching_pythoncall(no_julia,
                                                                               monkeypatch):
    fake_julia(no_julia / "bin", "julia version 1.9.4")
    monkeypatch.setenv("PATH", str(no_julia / "bin"))
    monkeypatch.setattr(jr, "juliacall_declaration", lambda: declaration())
    ready, reason = jr.julia_readiness("knet")
    assert not ready and "not instantiated (no Manifest.toml)" in reason
    assert reason.endswith("run `python -m harness setup julia`")
    write_manifest("knet", {"Knet": "1.4.10", "PythonCall": "0.9.25"}, format2=False)
    ready, reason = jr.julia_readiness("knet")
    assert not ready and "needs PythonCall 0.9.28" in reason and "has 0.9.25" in reason
    write_manifest("knet", {"PythonCall": "0.9.28"})
    ready, reason = jr.julia_readiness("knet")
    assert not ready and "has no Knet" in reason
    write_manifest("knet", {"Knet": "1.4.10", "PythonCall": "0.9.28"})
    ready, reason = jr.julia_readiness("knet")
    assert ready, reason
    assert "Julia 1.9.4" in reason and "Knet 1.4.10" in reason and "juliacall 0.9.28" in reason
    assert jr.julia_problem("knet") is None


JULIAPKG_JSON = ('{"julia": "~1.9, ^1.10.3", "packages": {'
                 '"PythonCall": {"uuid": "6099a3de-0909-46bc-b1f4-468b9a2dfc0d", '
                 '"version": "=0.9.28"}, "OpenSSL_jll": {"uuid": '
                 '"458c3c95-2e84-50aa-8efc-19380b2a3a95", "version": "<=python"}}}')  # 0.9.28's


def test_juliacall_declaration_is_read_from_its_juliapkg_json(tmp_path, monkeypatch):
    package = tmp_path / "juliacall"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (package / "juliapkg.json").write_text(JULIAPKG_JSON)
    info = tmp_path / "juliacall-0.9.28.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: juliacall\nVersion: 0.9.28\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = jr.juliacall_declaration()
    assert found.version == "0.9.28" and found.julia[0] == "~1.9, ^1.10.3"
    assert found.package("PythonCall").spec == "=0.9.28"
    assert found.package("OpenSSL_jll").spec  # resolved for this Python's OpenSSL


@pytest.mark.parametrize("openssl, spec, julia", [
    ((3, 0, 13), "3 - 3.0", ("~1.9, ^1.10.3", "1 - 1.11")),  # Julia 1.12 ships OpenSSL 3.5
    ((3, 5, 1), "3 - 3.5", ("~1.9, ^1.10.3",)),
    ((1, 1, 1), "1.1 - 1.1.1", ("~1.9, ^1.10.3", "1 - 1.11"))])
def test_openssl_jll_is_held_to_this_pythons_openssl_as_juliapkg_does(tmp_path, openssl, spec,
                                                                      julia):
    (tmp_path / "juliapkg.json").write_text(JULIAPKG_JSON)
    found = constraints.read_declaration(tmp_path / "juliapkg.json", "0.9.28", openssl)
    assert found.package("OpenSSL_jll").spec == spec and found.julia == julia
    # the Julia limit it adds is kept apart, for the message that names the cause
    assert found.openssl_limit == (julia[-1] if len(julia) > 1 else None)
    assert found.openssl == ".".join(map(str, openssl))
    assert found.package("OpenSSL_jll").julia() == (
        'Pkg.PackageSpec(name="OpenSSL_jll", uuid="458c3c95-2e84-50aa-8efc-19380b2a3a95", '
        f'version=Pkg.Types.semver_spec("{spec}"))')


def test_readiness_checks_every_package_juliacall_declares(no_julia, monkeypatch):
    fake_julia(no_julia / "bin", "julia version 1.10.4")
    monkeypatch.setenv("PATH", str(no_julia / "bin"))
    monkeypatch.setattr(jr, "juliacall_declaration", lambda: declaration(openssl="3 - 3.0"))
    write_manifest("flux", {"Flux": "0.16.11", "PythonCall": "0.9.28"})
    ready, reason = jr.julia_readiness("flux")
    assert not ready and "needs OpenSSL_jll 3 - 3.0" in reason and "has none" in reason
    write_manifest("flux", {"Flux": "0.16.11", "PythonCall": "0.9.28", "OpenSSL_jll": "3.5.1+0"})
    ready, reason = jr.julia_readiness("flux")
    assert not ready and "has 3.5.1+0" in reason
    write_manifest("flux", {"Flux": "0.16.11", "PythonCall": "0.9.28", "OpenSSL_jll": "3.0.15+1"})
    assert jr.julia_readiness("flux")[0]


def test_an_openssl_limit_on_julia_is_a_readiness_reason(no_julia, monkeypatch):
    fake_julia(no_julia / "bin", "julia version 1.12.1")
    monkeypatch.setenv("PATH", str(no_julia / "bin"))
    monkeypatch.setattr(jr, "juliacall_declaration", lambda: constraints.Declaration(
        "0.9.28", ("~1.9, ^1.10.3", "1 - 1.11"), (), openssl_limit="1 - 1.11",
        openssl="3.0.13"))
    ready, reason = jr.julia_readiness("flux")
    # the cause, and a fix that works: no juliacall lifts it, an older Julia does
    assert not ready and "Julia 1 - 1.11 only, not 1.12.1" in reason
    assert "OpenSSL_jll `<=python`" in reason and "OpenSSL 3.0.13" in reason
    assert "Julia 1.10 (LTS) or 1.11" in reason and "`juliaup add 1.10`" in reason
    assert "HARNESS_JULIA_FLUX" in reason and "pip install" not in reason
    assert reason.endswith("then `python -m harness setup julia`")
    # a Julia the juliacall itself does not support still gets the pip pins
    monkeypatch.setattr(jr, "juliacall_declaration", lambda: constraints.Declaration(
        "0.9.34", ("^1.10.3", "1 - 1.11"), (), openssl_limit="1 - 1.11", openssl="3.0.13"))
    fake_julia(no_julia / "bin", "julia version 1.10.1")
    jr._version_output.cache_clear()
    ready, reason = jr.julia_readiness("flux")
    assert not ready and "supports Julia ^1.10.3, not 1.10.1" in reason and "pip install" in reason


def test_pyjulia_bridge_is_checked_when_chosen(no_julia, monkeypatch):
    fake_julia(no_julia / "bin", "julia version 1.10.4")
    monkeypatch.setenv("PATH", str(no_julia / "bin"))
    monkeypatch.setenv(jr.BRIDGE_VARIABLE, "pyjulia")
    monkeypatch.setattr(jr.importlib.util, "find_spec", lambda name: None)
    ready, reason = jr.julia_readiness("flux")
    assert not ready and "PyJulia is not installed" in reason
    monkeypatch.setenv(jr.BRIDGE_VARIABLE, "pycall")
    ready, reason = jr.julia_readiness("flux")
    assert not ready and "'juliacall' (default) or 'pyjulia'" in reason


@pytest.mark.parametrize("spec, version, expected", [
    ("^1.10.3", (1, 10, 3), True), ("^1.10.3", (1, 10, 2), False), ("^1.10.3", (1, 12, 0), True),
    ("^1.10.3", (2, 0, 0), False), ("~1.9,^1.10.3", (1, 9, 4), True),
    ("~1.9,^1.10.3", (1, 10, 0), False), ("~1.9,^1.10.3", (1, 8, 5), False),
    ("~1.6.1,~1.7,~1.8,~1.9,=1.10.0,^1.10.3", (1, 6, 7), True),
    ("~1.6.1,~1.7,~1.8,~1.9,=1.10.0,^1.10.3", (1, 10, 0), True),
    ("~1.6.1,~1.7,~1.8,~1.9,=1.10.0,^1.10.3", (1, 10, 1), False),
    ("1.6.1-1.10.0,^1.10.3", (1, 8, 0), True), ("1.6.1-1.10.0,^1.10.3", (1, 10, 2), False),
    ("1.6.1", (1, 11, 0), True), ("1.6.1", (1, 6, 0), False), ("1.6 - 1.9", (1, 9, 9), True),
    ("1.6 - 1.9", (1, 10, 0), False)])
def test_julia_compat_specifiers(spec, version, expected):
    assert jr.julia_compat_contains(spec, version) is expected


def test_manifest_versions_reads_both_formats(tmp_path):
    (tmp_path / "Manifest.toml").write_text(
        '[[Knet]]\ndeps = ["CUDA"]\nuuid = "1902f260-5fb4-5aff-8c31-6271790ab950"\n'
        'version = "1.4.10"\n\n[[Random]]\nuuid = "9a3f8284-a2c9-5f02-9a11-845980a1fd5c"\n')
    assert jr.manifest_versions(tmp_path / "Manifest.toml") == {"Knet": "1.4.10", "Random": ""}
    (tmp_path / "Manifest.toml").write_text(
        'julia_version = "1.10.4"\nmanifest_format = "2.0"\n\n[[deps.Flux]]\n'
        'deps = ["Adapt"]\nuuid = "587475ba-b771-5e3f-ad9e-33799f191a9c"\nversion = "0.16.11"\n'
        '\n    [deps.Flux.extensions]\n    FluxCUDAExt = "CUDA"\n\n[[deps."Odd.Name"]]\n'
        'version = "2.0.1"\n')
    assert jr.manifest_versions(tmp_path / "Manifest.toml") == {"Flux": "0.16.11",
                                                                "Odd.Name": "2.0.1"}


def test_juliacall_is_pointed_at_the_flavor_environment_offline():
    env = jb.juliacall_environment(jr.FLAVORS["flux"], "/opt/julia/bin/julia")
    assert env["PYTHON_JULIACALL_EXE"] == env["PYTHON_JULIAPKG_EXE"] == "/opt/julia/bin/julia"
    assert env["PYTHON_JULIACALL_PROJECT"] == env["PYTHON_JULIAPKG_PROJECT"] == \
        str(jr.JULIA_IMPLS / "flux")
    assert env["PYTHON_JULIAPKG_OFFLINE"] == "yes"
    assert jb.juliacall_environment(jr.FLAVORS["knet"], "j")["PYTHON_JULIACALL_PROJECT"] == \
        str(jr.REPO_ROOT)


# -- the adapters, against a stand-in for the Julia module -------------------------------------

class FakeJuliaModule:
    """Records every call the adapter makes and answers as the Julia files do (arrays of one
    sample a column), so the Python half is tested end to end without Julia."""

    def __init__(self, width: int, cudnn: str = "no") -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.width, self.cudnn, self.n = width, cudnn, 0
        self.stored: dict[str, np.ndarray] = {}  # what load_weight was given, as Julia keeps it
        self.acts: dict[str, np.ndarray] | None = None  # what `activations` answers, if set
        self.facts: dict[str, str] = {}  # more of what `info` answers

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name == "prepare":
                self.n = args[-1].shape[-1]  # x_test (…, N)
            if name == "load_weight":
                self.stored[args[1]] = np.array(args[2], order="F")
            if name == "predict":
                return np.asfortranarray(np.tile(np.arange(self.width, dtype=np.float32)[:, None],
                                                 (1, self.n)))
            if name == "extract":
                first, last = args[1], args[2]
                return np.asfortranarray(np.ones((self.width, last - first + 1), np.float32))
            if name == "verify_step":
                return 2.25
            if name == "get_weights" and self.stored:
                return dict(self.stored)
            if name == "get_weights":
                return {"fc.weight": np.asfortranarray(np.eye(self.width, 3, dtype=np.float32)),
                        "fc.bias": np.zeros(self.width, np.float32)}
            if name == "activations" and self.acts is not None:
                return self.acts
            if name == "activations":  # one entry in Julia's layout, (W, H, C, N)
                return {"conv1": np.asfortranarray(np.arange(2 * 3 * 4 * 5, dtype=np.float32)
                                                   .reshape((5, 4, 3, 2), order="F"))}
            if name == "info":
                return {"framework_version": "1.4.10", "julia_version": "1.9.4",
                        "device": "cuda", "device_name": "NVIDIA H100", "cudnn": self.cudnn,
                        "math_mode": "DEFAULT_MATH", "compute_capability": "9.0",
                        "tf32_override": "", "precision_choice": "default", **self.facts}
            return None
        return call


class FakeBridge:
    name, version = "juliacall", "0.9.28"


def adapter(cls, width: int, flavor: str = "knet", cudnn: str = "no"):
    impl = cls.__new__(cls)  # everything __init__ does except starting Julia
    impl.requested_device, impl.options = "auto", {"flavor": flavor}
    impl.flavor, impl.bridge, impl.start_s = jr.FLAVORS[flavor], FakeBridge(), 1.5
    impl.module, impl.state = FakeJuliaModule(width, cudnn), object()
    return impl


def test_cnn_adapter_hands_julia_its_layouts_and_returns_canonical_logits():
    impl = adapter(jb.JuliaCNN, 10)
    data = TrainingData(x_train=RNG.random((6, 3, 32, 32), dtype=np.float32),
                        y_train=np.array([0, 1, 2, 3, 4, 9], np.int32),
                        x_test=RNG.random((5, 3, 32, 32), dtype=np.float32),
                        y_test=np.zeros(5, np.int32))
    impl.prepare(data)
    impl.build(CNNConfig(batch_size=3), seed=7)
    impl.train_epoch(np.array([5, 0, 2, 1, 3, 4]))
    logits = impl.predict()
    impl.sync()
    names = [c[0] for c in impl.module.calls]
    assert names == ["prepare", "build", "train_epoch", "predict", "sync"]
    _, (state, x, y, xt), _ = impl.module.calls[0]
    assert state is impl.state
    assert x.shape == (32, 32, 3, 6) and np.shares_memory(x, data.x_train)
    np.testing.assert_array_equal(y, [1, 2, 3, 4, 5, 10])
    assert xt.shape == (32, 32, 3, 5)
    _, (_, seed), kwargs = impl.module.calls[1]
    assert seed == 7 and kwargs == dataclasses.asdict(CNNConfig(batch_size=3))  # every field
    np.testing.assert_array_equal(impl.module.calls[2][1][1], [6, 1, 3, 2, 4, 5])
    assert logits.shape == (5, 10) and logits.flags.c_contiguous
    np.testing.assert_array_equal(logits[2], np.arange(10))
    with pytest.raises(ValueError, match="whole number of batches"):
        impl.train_epoch(np.arange(4))


def test_rnn_adapter_passes_tokens_and_every_hyperparameter():
    impl = adapter(jb.JuliaRNN, 2, flavor="flux")
    data = TrainingData(x_train=RNG.integers(0, 30000, (4, 150), dtype=np.int32),
                        y_train=np.array([0, 1, 1, 0], np.int32),
                        x_test=RNG.integers(0, 30000, (3, 150), dtype=np.int32),
                        y_test=np.zeros(3, np.int32))
    impl.prepare(data)
    impl.build(RNNConfig(), seed=0)
    logits = impl.predict()
    _, (_, x, y, xt), _ = impl.module.calls[0]
    assert x.shape == (150, 4) and x.dtype == np.int32 and np.shares_memory(x, data.x_train)
    np.testing.assert_array_equal(y, [1, 2, 2, 1])
    kwargs = impl.module.calls[1][2]
    assert kwargs == {"vocab_size": 30000, "seq_len": 150, "embedding_dim": 125, "hidden": 100,
                      "n_classes": 2, "batch_size": 64, "epochs": 3, "lr": 0.001, "beta1": 0.9,
                      "beta2": 0.999, "eps": 1e-8}
    assert logits.shape == (3, 2)


def test_features_adapter_loads_canonical_weights_before_build_and_extracts_rows():
    impl = adapter(jb.JuliaResNet50Features, 2048, flavor="flux")
    images = RNG.random((4, 3, 8, 8), dtype=np.float32)
    impl.prepare(images)
    weights = {"conv1.weight": RNG.standard_normal((64, 3, 7, 7)).astype(np.float32),
               "bn1.weight": np.ones(64, np.float32), "fc.weight": np.zeros((1000, 2048)),
               "bn1.num_batches_tracked": np.array(0)}
    impl.build(InferenceConfig(), weights, seed=3)
    features = impl.extract(2, 4)
    calls = impl.module.calls
    assert [c[0] for c in calls] == ["prepare", "load_weight", "load_weight", "build", "extract"]
    assert calls[3][2] == dataclasses.asdict(InferenceConfig())
    loaded = {c[1][1]: c[1][2] for c in calls if c[0] == "load_weight"}
    assert set(loaded) == {"conv1.weight", "bn1.weight"}  # the classifier is cut off
    assert loaded["conv1.weight"].shape == (7, 7, 3, 64)
    np.testing.assert_allclose(loaded["conv1.weight"][0, 0, 1, 5],
                               weights["conv1.weight"][5, 1, 6, 6])  # flipped for Flux's Conv
    assert calls[4][1][1:] == (3, 4)  # rows 2, 3 -> Julia's 3:4
    assert features.shape == (2, 2048)


def test_info_reports_julia_and_the_bridge():
    info = adapter(jb.JuliaRNN, 2, cudnn="yes").info()
    assert (info.framework, info.framework_version, info.language, info.language_version) == \
        ("Knet.jl", "1.4.10", "julia", "1.9.4")
    assert info.device == "cuda" and info.cudnn is True
    assert info.extra["bridge"] == "juliacall 0.9.28" and info.extra["not_run_in_ci"] is True
    assert info.extra["julia_start_s"] == 1.5
    # the precision in effect, from the facts Julia reports: TF32 allowed in cuDNN here
    assert info.precision.startswith("tf32-where-allowed (CUDA.jl math_mode=DEFAULT_MATH")
    assert info.extra["math_mode"] == "DEFAULT_MATH" and info.extra["compute_capability"] == "9.0"


def test_constructing_an_adapter_without_julia_says_why(no_julia):
    with pytest.raises(jr.JuliaNotReady, match="julia not found on PATH"):
        jb.JuliaCNN(device="cpu", flavor="flux")
    with pytest.raises(ValueError, match="unknown Julia flavor 'lux'"):
        jb.JuliaResNet50Features(flavor="lux")


def test_importing_the_bridge_starts_no_julia():
    import subprocess
    import sys

    code = ("import sys, harness.julia.bridge; "
            "print([m for m in ('juliacall', 'julia') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=jr.REPO_ROOT, env={**os.environ, "PYTHONPATH": str(jr.REPO_ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_verify_hooks_hand_julia_its_layouts_and_turn_answers_back():
    impl = adapter(jb.JuliaCNN, 10, flavor="flux")
    impl.build(CNNConfig(), seed=0)
    x = RNG.random((2, 3, 4, 5), dtype=np.float32)
    assert impl.verify_step(x, np.array([3, 0], np.int32)) == 2.25
    _, (_, jx, jy), _ = impl.module.calls[-1]
    assert jx.shape == (5, 4, 3, 2) and np.shares_memory(jx, x)
    np.testing.assert_array_equal(jy, [4, 1])
    acts = impl.activations(x)
    assert acts["conv1"].shape == (2, 3, 4, 5) and acts["conv1"].flags.c_contiguous  # NCHW
    weights = impl.get_weights()
    assert weights["fc.weight"].shape == (10, 3) and weights["fc.bias"].shape == (10,)
    rnn = adapter(jb.JuliaRNN, 2)
    rnn.build(RNNConfig(), seed=0)
    tokens = RNG.integers(0, 100, (3, 7)).astype(np.int64)  # any integer dtype comes in
    rnn.verify_step(tokens, np.array([0, 1, 1], np.int32))
    _, (_, jt, jy), _ = rnn.module.calls[-1]
    assert jt.shape == (7, 3) and jt.dtype == np.int32
    np.testing.assert_array_equal(jy, [1, 2, 2])


def test_inference_activations_are_reported_unsupported():
    impl = adapter(jb.JuliaResNet50Features, 2048)
    with pytest.raises(NotImplementedError):
        impl.activations(RNG.random((1, 3, 8, 8), dtype=np.float32))


# -- one adapter per kind, the classes made from the benchmark records -------------------------

def test_every_julia_entry_point_resolves_to_the_adapter_of_its_kind():
    from harness import registry

    for row in ("knet", "flux"):
        entries = registry.by_name(row).entry_points
        assert {"cnn", "rnn", "transformer", "inference"} <= set(entries)
        for benchmark, entry in entries.items():
            module, _, name = entry.partition(":")
            cls = getattr(importlib.import_module(module), name)  # as the worker does
            record = benchmarks.get(benchmark)
            assert name == f"Julia{record.impl_class}" and cls.benchmark == benchmark
            kind = TrainingImplementation if record.training else InferenceImplementation
            assert issubclass(cls, kind)
    assert jb.JuliaTransformer is jb.JuliaTransformer  # made once
    assert jb.JuliaCNN.__mro__[1] is jb.JuliaRNN.__mro__[1] is jb.JuliaTransformer.__mro__[1]
    with pytest.raises(AttributeError):
        jb.JuliaFeatures  # noqa: B018 - renamed JuliaResNet50Features


def test_a_benchmark_registered_later_gets_an_adapter(monkeypatch):
    toy = dataclasses.replace(benchmarks.get("rnn"), name="toy", impl_class="Toy",
                              julia_source="toy.jl")
    monkeypatch.setitem(benchmarks.REGISTRY, "toy", toy)
    monkeypatch.setattr(jb, "_ADAPTERS", {})
    assert jb.JuliaToy.benchmark == "toy" and issubclass(jb.JuliaToy, TrainingImplementation)
    assert "toy.jl" in jb.JuliaToy.__doc__


def test_the_bridge_and_layouts_name_no_benchmark():
    """Adding a benchmark with Julia sources needs no edit in harness/julia/: no string there
    is a benchmark's or a canonical model's name."""
    names = {b.name for b in benchmarks.REGISTRY.values()} | \
        {b.model for b in benchmarks.REGISTRY.values()}
    for module in (jb, jl):
        tree = ast.parse(Path(module.__file__).read_text())
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str)}
        assert strings & names == set(), module.__name__


def tokens_data(n_train=4, n_test=3):
    return TrainingData(x_train=RNG.integers(0, 30000, (n_train, 150), dtype=np.int32),
                        y_train=np.array([0, 1, 1, 0][:n_train], np.int32),
                        x_test=RNG.integers(0, 30000, (n_test, 150), dtype=np.int32),
                        y_test=np.zeros(n_test, np.int32))


def test_transformer_adapter_passes_tokens_and_every_config_field():
    impl = adapter(jb.JuliaTransformer, 2, flavor="flux")
    data = tokens_data()
    impl.prepare(data)
    impl.build(TransformerConfig(), seed=5)
    impl.train_epoch(np.arange(64) % 4)
    logits = impl.predict()
    (_, (_, x, y, xt), _), (_, (_, seed), kwargs) = impl.module.calls[:2]
    assert x.shape == (150, 4) and x.dtype == np.int32 and np.shares_memory(x, data.x_train)
    assert xt.shape == (150, 3)
    np.testing.assert_array_equal(y, [1, 2, 2, 1])
    assert seed == 5 and kwargs == dataclasses.asdict(TransformerConfig())
    assert {"d_model", "heads", "mlp_dim", "blocks", "ln_eps", "seq_len"} <= set(kwargs)
    assert logits.shape == (3, 2)


@pytest.mark.parametrize("flavor", ["knet", "flux"])
def test_transformer_weights_round_trip_through_the_adapter(flavor):
    impl = adapter(jb.JuliaTransformer, 2, flavor=flavor)
    impl.build(TransformerConfig(), seed=0)
    canonical = transformer_params()
    impl.load_weights(canonical)
    loaded = impl.module.stored
    assert loaded["embedding.weight"].shape == (128, 40)  # what Julia's load_weight got
    assert loaded["blocks.1.attn.out.weight"].shape == (128, 128)
    back = impl.get_weights()  # what Julia's get_weights answers, turned canonical
    assert set(back) == set(canonical) == set(transformer_oracle.PARAMETERS)
    for name, value in canonical.items():
        assert back[name].flags.c_contiguous, name
        np.testing.assert_array_equal(back[name], value, err_msg=name)


def test_transformer_verify_hooks_and_attention_record():
    impl = adapter(jb.JuliaTransformer, 2)
    impl.build(TransformerConfig(), seed=0)
    tokens = RNG.integers(0, 100, (3, 150)).astype(np.int64)
    assert impl.verify_step(tokens, np.array([0, 1, 1])) == 2.25
    _, (_, jt, jy), _ = impl.module.calls[-1]
    assert jt.shape == (150, 3) and jt.dtype == np.int32
    np.testing.assert_array_equal(jy, [1, 2, 2])
    d, t, n = 128, 150, 3  # Julia's layouts: (D, T, N) and (D, N)
    impl.module.acts = {"embedding": np.ones((d, t, n), np.float32, order="F"),
                        "blocks.1": np.ones((d, t, n), np.float32, order="F"),
                        "pooled": np.arange(d * n, dtype=np.float32).reshape((d, n), order="F"),
                        "fc": np.ones((2, n), np.float32, order="F")}
    acts = impl.activations(tokens)
    assert acts["embedding"].shape == acts["blocks.1"].shape == (n, t, d)  # the oracle's
    assert acts["pooled"].shape == (n, d) and acts["fc"].shape == (n, 2)
    np.testing.assert_array_equal(acts["pooled"][1], impl.module.acts["pooled"][:, 1])
    impl.module.facts = {"attention": "Knet.bmm, written out: cublasSgemmStridedBatched",
                         "cudnn_tf32": "none"}
    info = impl.info()
    assert info.attention == "Knet.bmm, written out: cublasSgemmStridedBatched"
    assert "attention" not in info.extra
    assert info.precision.startswith("fp32 (CUDA.jl math_mode=DEFAULT_MATH")


@pytest.mark.parametrize("bad", [np.zeros((2, 3), np.complex64), np.zeros((2, 3), bool)])
def test_inputs_are_converted_by_dtype(bad):
    assert jl.julia_inputs(np.zeros((2, 3), np.int64)).dtype == np.int32
    assert jl.julia_inputs(np.zeros((1, 3, 2, 2), np.float64)).shape == (2, 2, 3, 1)
    with pytest.raises(ValueError, match="float images or integer token ids"):
        jl.julia_inputs(bad)
