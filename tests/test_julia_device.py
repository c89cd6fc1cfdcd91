"""The Julia rows' device and precision rules and the julia binaries they trust, tested without
Julia: Knet on a GPU newer than its CUDA.jl 3 (a stand-in nvidia-smi on PATH), the precision
label written from what Julia reports, the strict-fp32 rows, and the checks made before a
binary named by HARNESS_JULIA* is run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import precision, registry
from harness.julia import bridge as jb
from harness.julia import device as jd
from harness.julia import readiness as jr
from tests.helpers import without_julia

FAKE_NVIDIA_SMI = """#!/bin/sh
case "$*" in
  *compute_cap*) printf '{lines}' ;;
  *-L*) echo "GPU 0: stand-in (UUID: GPU-0)" ;;
esac
"""


def fake_nvidia_smi(directory: Path, *gpus: tuple[str, str]) -> None:
    """nvidia-smi answering `--query-gpu=uuid,name,driver_version,compute_cap` with `gpus`
    ((name, "9.0"), ...), the i-th with UUID GPU-i."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nvidia-smi"
    lines = "".join(f"GPU-{i}, {name}, 550.54, {cap}\\n" for i, (name, cap) in enumerate(gpus))
    path.write_text(FAKE_NVIDIA_SMI.format(lines=lines))
    path.chmod(0o755)


def executable(path: Path, text: str, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)  # whatever the umask
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A PATH holding only tmp_path/bin (no nvidia-smi, no julia), no julia variables, no
    CUDA_VISIBLE_DEVICES (restored afterwards, also when an adapter sets it)."""
    (tmp_path / "bin").mkdir()
    without_julia(monkeypatch, tmp_path, tmp_path / "bin")
    monkeypatch.setenv(jd.CUDA_VISIBLE_DEVICES, "")  # so that delenv records the original
    monkeypatch.delenv(jd.CUDA_VISIBLE_DEVICES)
    return tmp_path


def ready_knet(machine: Path, monkeypatch) -> None:
    """Everything the knet rows need, in stand-ins: Julia 1.9, juliacall, the environment."""
    executable(machine / "bin" / "julia", "#!/bin/sh\necho 'julia version 1.9.4'\n")
    monkeypatch.setattr(jr, "juliacall_declaration", lambda: jr.constraints.Declaration(
        "0.9.28", ("~1.9, ^1.10.3",), (jr.constraints.PackageConstraint(
            "PythonCall", "6099a3de-0909-46bc-b1f4-468b9a2dfc0d", "=0.9.28"),)))
    (jr.FLAVORS["knet"].project / "Manifest.toml").write_text(
        '[[deps.Knet]]\nversion = "1.4.10"\n[[deps.PythonCall]]\nversion = "0.9.28"\n')


# -- Knet on a GPU newer than CUDA.jl 3 -------------------------------------------------------

def test_nvidia_smi_compute_capabilities_are_read(machine):
    assert jd.gpu_capabilities() == []  # no nvidia-smi: nothing to say
    fake_nvidia_smi(machine / "bin", ("NVIDIA H200", "9.0"), ("Tesla V100-SXM2-16GB", "7.0"))
    assert jd.gpu_capabilities() == [("NVIDIA H200", (9, 0)), ("Tesla V100-SXM2-16GB", (7, 0))]
    assert [gpu.uuid for gpu in jd.gpus()] == ["GPU-0", "GPU-1"]


@pytest.mark.parametrize("gpus, note", [
    ((("NVIDIA H200", "9.0"),), True), ((("NVIDIA B200", "10.0"),), True),
    ((("NVIDIA A100-SXM4-80GB", "8.0"),), False), ((("NVIDIA L4", "8.9"),), False), ((), False)])
def test_the_knet_rows_carry_the_reason_on_a_gpu_too_new_for_them(machine, monkeypatch, gpus,
                                                                   note):
    ready_knet(machine, monkeypatch)
    fake_nvidia_smi(machine / "bin", *gpus)
    knet = registry.by_name("knet")
    for row in (knet, precision.at_precision(knet, "fp32-strict")[0]):
        ready = registry.readiness(row, "cnn", gpu=bool(gpus))
        assert ready.ready, ready.reason  # still ready: --device auto runs it on the CPU
        if note:
            assert f"{gpus[0][0]} has compute capability {gpus[0][1]}" in ready.note
            assert "runs on the CPU here with --device auto" in ready.note
            assert "--device cuda fails" in ready.note
        else:
            assert ready.note == ""
    assert registry.readiness(registry.by_name("flux"), "cnn").note == ""  # CUDA.jl 5/6: fine


class FakeModule:
    """The Julia module as the adapter sees it: records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


class FakeBridge:
    name, version = "juliacall", "0.9.28"

    def __init__(self) -> None:
        self.module = FakeModule()
        self.visible = os.environ.get(jd.CUDA_VISIBLE_DEVICES)  # as Julia would find it

    def include(self, path: Path) -> FakeModule:
        return self.module


@pytest.fixture
def started(monkeypatch):
    """Julia 'starts' as a recorded stand-in: the bridges it started."""
    bridges: list[FakeBridge] = []
    monkeypatch.setattr(jb, "start_julia", lambda flavor: bridges.append(FakeBridge())
                        or bridges[-1])
    return bridges


def test_knet_with_device_cuda_on_a_hopper_gpu_fails_before_julia_starts(machine, started):
    fake_nvidia_smi(machine / "bin", ("NVIDIA H200", "9.0"))
    with pytest.raises(jr.JuliaNotReady) as raised:
        jb.JuliaCNN(device="cuda", flavor="knet")
    message = str(raised.value)
    assert message.startswith("--device cuda: NVIDIA H200 has compute capability 9.0")
    assert "--device cpu or auto" in message and "\n" not in message
    assert started == []  # no Julia was started for it


@pytest.mark.parametrize("device, flavor, gpus", [
    ("auto", "knet", (("NVIDIA H200", "9.0"),)),  # Julia falls back to the CPU and says why
    ("cuda", "flux", (("NVIDIA H200", "9.0"),)),  # Flux's CUDA.jl knows Hopper
    ("cuda", "knet", (("NVIDIA H200", "9.0"), ("NVIDIA A100", "8.0"))),  # one GPU it can use
    ("cuda", "knet", ())])  # no nvidia-smi: Julia decides
def test_other_device_requests_reach_julia(machine, started, device, flavor, gpus):
    fake_nvidia_smi(machine / "bin", *gpus)
    impl = jb.JuliaCNN(device=device, flavor=flavor)
    name, args, kwargs = started[0].module.calls[0]
    assert (name, args, kwargs) == ("State", (device,), {"precision": "default"})
    assert impl.state is None  # what State returned


MIXED = (("NVIDIA H200", "9.0"), ("NVIDIA A100-SXM4-80GB", "8.0"), ("NVIDIA H100", "9.0"),
         ("Tesla V100", "7.0"))


@pytest.mark.parametrize("gpus, pin", [
    (MIXED, {"CUDA_VISIBLE_DEVICES": "GPU-1,GPU-3"}),  # only the GPUs Knet has code for
    ((("NVIDIA A100", "8.0"), ("NVIDIA L4", "8.9")), {}),  # every GPU usable: Knet chooses
    ((("NVIDIA H200", "9.0"),), {}),  # none usable: the CPU (auto) or a refusal (cuda)
    ((), {})])
def test_knet_is_pinned_to_the_gpus_it_can_use_on_a_mixed_machine(machine, gpus, pin):
    fake_nvidia_smi(machine / "bin", *gpus)
    assert jd.knet_gpu_pin() == pin


def test_a_chosen_cuda_visible_devices_stands_and_the_note_says_what_knet_takes(machine,
                                                                            monkeypatch):
    fake_nvidia_smi(machine / "bin", *MIXED)
    note = jd.knet_gpu_note()
    assert "NVIDIA H200 has compute capability 9.0" in note and "sm_86" in note
    assert "pinned to the GPUs it can use (NVIDIA A100-SXM4-80GB, Tesla V100)" in note
    monkeypatch.setenv(jd.CUDA_VISIBLE_DEVICES, "0")
    assert jd.knet_gpu_pin() == {}
    note = jd.knet_gpu_note()
    assert "CUDA_VISIBLE_DEVICES=0" in note and "the most free memory" in note
    assert "(NVIDIA A100-SXM4-80GB, Tesla V100)" in note


@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_a_knet_run_on_a_mixed_machine_starts_julia_pinned(machine, started, device):
    fake_nvidia_smi(machine / "bin", *MIXED)
    impl = jb.JuliaTransformer(device=device, flavor="knet")
    assert started[0].visible == "GPU-1,GPU-3"  # set before Julia started
    impl.module.info = lambda state: {"device": "cuda", "cudnn_tf32": "none"}
    assert impl.info().extra["gpu_pin"] == "CUDA_VISIBLE_DEVICES=GPU-1,GPU-3"


@pytest.mark.parametrize("device, flavor", [("cpu", "knet"), ("cuda", "flux")])
def test_only_knet_gpu_runs_are_pinned(machine, started, device, flavor):
    fake_nvidia_smi(machine / "bin", *MIXED)
    impl = jb.JuliaRNN(device=device, flavor=flavor)
    assert started[0].visible is None
    impl.module.info = lambda state: {"device": "cpu"}
    assert "gpu_pin" not in impl.info().extra


# -- precision --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["knet", "flux"])
def test_fp32_strict_asks_julia_for_strict_fp32_with_tf32_off(machine, started, name):
    row, why = precision.at_precision(registry.by_name(name), "fp32-strict")
    assert why is None and row.options["variant"] == "fp32-strict"
    assert row.env["NVIDIA_TF32_OVERRIDE"] == "0"  # read by cuBLAS and cuDNN as they load
    jb.JuliaRNN(device="cpu", **row.options)
    assert started[0].module.calls[0][2] == {"precision": "strict"}
    base = registry.by_name(name)
    assert "precision" not in base.options and "NVIDIA_TF32_OVERRIDE" not in base.env
    jb.JuliaRNN(device="cpu", **base.options)
    assert started[1].module.calls[0][2] == {"precision": "default"}


GPU = {"device": "cuda", "math_mode": "DEFAULT_MATH", "compute_capability": "9.0",
       "tf32_override": ""}


@pytest.mark.parametrize("flavor, facts, label", [
    ("flux", {"device": "cpu"}, "fp32"),
    ("knet", {"device": "cpu", "tf32_override": "0"}, "fp32"),
    ("knet", {"device": "cpu", "precision_choice": "strict"},
     "fp32-strict (the CPU computes fp32 only; NVIDIA_TF32_OVERRIDE=0 for the GPU)"),
    ("flux", {**GPU, "cudnn_tf32": "convolutions"},
     "tf32-where-allowed (CUDA.jl math_mode=DEFAULT_MATH: cuBLAS matmuls fp32; "
     "cuDNN convolutions with CUDNN_TENSOR_OP_MATH may use TF32)"),
    ("knet", {**GPU, "cudnn_tf32": "convolutions"},
     "tf32-where-allowed (CUDA.jl math_mode=DEFAULT_MATH: cuBLAS matmuls fp32; "
     "convolutions under cuDNN's default math type, which allows TF32; "
     "NVIDIA_TF32_OVERRIDE=0 turns it off)"),
    ("knet", {**GPU, "cudnn_tf32": "GRU"},
     "tf32-where-allowed (CUDA.jl math_mode=DEFAULT_MATH: cuBLAS matmuls fp32; "
     "GRU under cuDNN's default math type, which allows TF32; "
     "NVIDIA_TF32_OVERRIDE=0 turns it off)"),
    # the Flux GRU and both Transformers make no cuDNN call that could use TF32
    ("flux", {**GPU, "cudnn_tf32": "none"},
     "fp32 (CUDA.jl math_mode=DEFAULT_MATH: cuBLAS matmuls fp32; no cuDNN convolution or RNN, "
     "the calls that could use TF32)"),
    ("knet", {**GPU, "cudnn_tf32": "none", "math_mode": "PEDANTIC_MATH"},
     "fp32 (CUDA.jl math_mode=PEDANTIC_MATH: cuBLAS matmuls fp32; no cuDNN convolution or RNN, "
     "the calls that could use TF32)"),
    ("flux", {**GPU, "math_mode": "PEDANTIC_MATH", "cudnn_tf32": "convolutions"},
     "tf32-where-allowed (CUDA.jl math_mode=PEDANTIC_MATH: cuBLAS matmuls fp32; convolutions "
     "under cuDNN's CUDNN_DEFAULT_MATH, which still allows TF32; NVIDIA_TF32_OVERRIDE=0 turns "
     "it off)"),
    ("knet", {**GPU, "math_mode": "PEDANTIC_MATH", "tf32_override": "0"},
     "fp32-strict (NVIDIA_TF32_OVERRIDE=0: no TF32 in cuBLAS or cuDNN; "
     "CUDA.jl math_mode=PEDANTIC_MATH)"),
    ("flux", {**GPU, "compute_capability": "7.0"},
     "fp32 (no TF32 below compute capability 8.0; CUDA.jl math_mode=DEFAULT_MATH)"),
    ("flux", {**GPU, "math_mode": "FAST_MATH", "cudnn_tf32": "convolutions"},
     "tf32-where-allowed (CUDA.jl math_mode=FAST_MATH: cuBLAS and cuDNN may use TF32)"),
    ("flux", {**GPU, "math_mode": "FAST_MATH", "cudnn_tf32": "none"},
     "tf32-where-allowed (CUDA.jl math_mode=FAST_MATH: cuBLAS may use TF32)")])
def test_the_precision_label_says_whether_tf32_was_allowed(flavor, facts, label):
    assert jd.precision_label(flavor, facts) == label


# What each Julia file says could use TF32 in cuDNN: the label is per benchmark.
CUDNN_TF32 = {("knet", "cnn.jl"): "convolutions", ("flux", "cnn.jl"): "convolutions",
              ("knet", "inference.jl"): "convolutions", ("flux", "inference.jl"): "convolutions",
              ("knet", "rnn.jl"): "GRU", ("flux", "rnn.jl"): "none",
              ("knet", "transformer.jl"): "none", ("flux", "transformer.jl"): "none"}


@pytest.mark.parametrize("flavor, source", sorted(CUDNN_TF32))
def test_each_julia_file_reports_which_cudnn_calls_could_use_tf32(flavor, source):
    import re

    text = (jr.FLAVORS[flavor].sources / source).read_text()
    assert re.findall(r'cudnn_tf32="(\w+)"', text) == [CUDNN_TF32[flavor, source]]
    # and so, on an H100 in the default mode, the Flux GRU's record says fp32, Knet's TF32
    label = jd.precision_label(flavor, {**GPU, "cudnn_tf32": CUDNN_TF32[flavor, source]})
    assert label.startswith("fp32 (" if CUDNN_TF32[flavor, source] == "none"
                            else "tf32-where-allowed (")


def test_every_implementation_file_is_in_the_table():
    files = {(f, name) for f in jr.FLAVORS for name in jr.julia_sources().values()}
    assert files == set(CUDNN_TF32)


def test_a_julia_result_records_the_precision_label(started):
    impl = jb.JuliaCNN(device="auto", flavor="flux")
    impl.module.info = lambda state: {**GPU, "tf32_override": "0", "math_mode": "PEDANTIC_MATH",
                                      "framework_version": "0.16.11"}
    info = impl.info()
    assert info.precision.startswith("fp32-strict (NVIDIA_TF32_OVERRIDE=0")
    assert info.extra["math_mode"] == "PEDANTIC_MATH" and info.extra["tf32_override"] == "0"


# -- julia binaries named by variables --------------------------------------------------------

RECORDING_JULIA = "#!/bin/sh\n: > '{marker}'\necho 'julia version 1.10.4'\n"


@pytest.mark.parametrize("layout, reason", [
    ("evil/tool", "is not named julia*"),
    ("open/julia", "is writable by group or others"),  # the directory: anyone can swap it
    ("file/julia", "is writable by group or others")])  # the file itself
def test_an_untrusted_harness_julia_is_not_run(machine, monkeypatch, layout, reason):
    marker = machine / "ran"
    binary = executable(machine / layout, RECORDING_JULIA.format(marker=marker))
    if layout.startswith("open"):
        binary.parent.chmod(0o777)
    if layout.startswith("file"):
        binary.chmod(0o777)
    monkeypatch.setenv("HARNESS_JULIA", str(binary))
    for flavor in ("knet", "flux"):
        ready, message = jr.julia_readiness(flavor)
        assert not ready
        assert message.startswith(f"HARNESS_JULIA={binary} is not run: ") and reason in message
        assert "\n" not in message
    assert not marker.exists()  # never executed, not even for --version


def test_a_link_named_julia_to_another_program_is_not_run(machine, monkeypatch):
    marker = machine / "ran"
    target = executable(machine / "tools" / "helper", RECORDING_JULIA.format(marker=marker))
    (machine / "links").mkdir()
    (machine / "links" / "julia").symlink_to(target)
    monkeypatch.setenv("HARNESS_JULIA_FLUX", str(machine / "links" / "julia"))
    ready, message = jr.julia_readiness("flux")
    assert not ready and "helper is not named julia*" in message and not marker.exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another user needs root")
def test_a_julia_owned_by_another_user_is_not_run(machine, monkeypatch):
    marker = machine / "ran"
    binary = executable(machine / "theirs" / "julia", RECORDING_JULIA.format(marker=marker))
    os.chown(binary, 4242, -1)
    monkeypatch.setattr(os, "getuid", lambda: 1000)  # this user: neither 4242 nor root
    monkeypatch.setenv("HARNESS_JULIA", str(binary))
    ready, message = jr.julia_readiness("flux")
    assert not ready and "is owned by another user (uid 4242)" in message and not marker.exists()


def test_a_trusted_harness_julia_is_used(machine, monkeypatch):
    marker = machine / "ran"
    binary = executable(machine / "opt" / "julia-1.10.4" / "bin" / "julia",
                        RECORDING_JULIA.format(marker=marker))
    monkeypatch.setenv("HARNESS_JULIA", str(binary))
    assert jr.find_julia(jr.FLAVORS["flux"]) == (str(binary), "HARNESS_JULIA")
    ready, message = jr.julia_readiness("flux")
    assert marker.exists(), message  # run for its version
    assert "juliacall" in message  # the next missing piece, past the binary


def test_list_reports_an_untrusted_julia_on_the_julia_rows(machine, monkeypatch, capsys):
    from harness import commands as cli

    marker = machine / "ran"
    binary = executable(machine / "x" / "tool", RECORDING_JULIA.format(marker=marker))
    monkeypatch.setenv("HARNESS_JULIA", str(binary))
    monkeypatch.setattr(registry, "gpu_present", lambda: False)
    assert cli.main(["list"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "julia*" in out  # the reason, in the julia rows' status
    assert not marker.exists()
