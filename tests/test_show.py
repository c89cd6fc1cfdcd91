"""`show`: sections of two or more implementations side by side, Python and Julia."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import benchmarks, sections
from tests.helpers import run_show

PYTHON_IMPL = '''\
"""Two benchmarks in one module, as py_impls/pytorch.py holds them."""


def make_cnn():
    return layers(HIDDEN)  # PY_HELPER


HIDDEN = 512  # PY_CONSTANT


def unrelated():
    pass  # PY_UNUSED


class _Base:
    def sync(self):
        pass


class CNN(_Base):
    """docstring, before any marker: not shown"""

    # == data ==
    def prepare(self, data):
        self.x = data.x_train  # PY_DATA

    # == model ==
    def build(self, config, seed):
        self.model = make_cnn()  # PY_MODEL

        # == loss and optimizer ==
        self.opt = sgd(0.01)  # PY_LOSS

    # == training epoch ==
    def train_epoch(self, order):
        step(self.model, order)  # PY_EPOCH

    # == prediction ==
    @no_grad
    def predict(self):
        return self.model(self.x)  # PY_PREDICT

    def load_weights(self, params):
        set_weights(params)  # PY_VERIFY_HOOK


class ResNet50Features(_Base):
    # == data ==
    def prepare(self, images):
        self.images = images  # PY_INF_DATA

    # == model ==
    def build(self, config, weights, seed):
        self.model = resnet()  # PY_INF_MODEL

    # == features ==
    def extract(self, start, stop):
        return self.model(self.images[start:stop])  # PY_INF_FEATURES


class _Resident:
    def train_epoch(self, order):
        scan(self.model, order)  # PY_SCAN_EPOCH


class CNNResident(_Resident, CNN):
    """a variant: sections come from CNN, its train_epoch from _Resident"""
'''

JULIA_IMPL = '''\
# Knet: all benchmarks in one file
using Knet

# == benchmark: cnn ==
# == data ==
xtrn = KnetArray(x)  # JL_DATA
# == model ==
model = Chain(Conv(3, 3, 3, 50))  # JL_MODEL
# == loss and optimizer ==
loss(x, y) = nll(model(x), y)  # JL_LOSS
# == training epoch ==
for (x, y) in minibatch(xtrn, ytrn, 64)  # JL_EPOCH
    train!(model, x, y)
end
# == prediction ==
predict(x) = model(x)  # JL_PREDICT
# == verification ==
weights() = params(model)  # JL_VERIFY

# == benchmark: inference ==
# == data ==
imgs = KnetArray(images)  # JL_INF_DATA
'''

CNN_TAGS = {"data": "DATA", "model": "MODEL", "loss and optimizer": "LOSS",
            "training epoch": "EPOCH", "prediction": "PREDICT"}


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    py = tmp_path / "fake_framework.py"
    py.write_text(PYTHON_IMPL)
    jl = tmp_path / "knet_impl.jl"
    jl.write_text(JULIA_IMPL)
    return py, jl


def test_python_class_and_julia_region_yield_every_section(sources) -> None:
    py, jl = sources
    python = sections.extract(sections.source_for(f"{py}:CNN", "cnn"), "cnn")
    julia = sections.extract(sections.source_for(str(jl), "cnn"), "cnn")
    assert list(python.sections) == list(CNN_TAGS)
    assert list(julia.sections) == [*CNN_TAGS, "verification"]
    for name, tag in CNN_TAGS.items():
        assert python.sections[name].code.count(f"PY_{tag}") == 1
        assert julia.sections[name].code.count(f"JL_{tag}") == 1
    # sections end at the next marker, at a verification hook, or at the region's end
    assert "PY_VERIFY_HOOK" not in python.sections["prediction"].code
    assert "JL_VERIFY" not in julia.sections["prediction"].code
    assert "JL_INF_DATA" not in julia.sections["verification"].code
    assert python.sections["prediction"].code.startswith("@no_grad\ndef predict(self):")
    assert python.sections["data"].parts[0].first_line == PYTHON_IMPL.splitlines().index(
        "    def prepare(self, data):") + 1


def test_show_prints_each_section_of_each_implementation_side_by_side(sources) -> None:
    py, jl = sources
    code, text = run_show("cnn", f"{py}:CNN", str(jl))
    assert code == 0
    for name, tag in CNN_TAGS.items():
        assert name.split()[0] in text
        assert f"PY_{tag}" in text and f"JL_{tag}" in text
    # side by side: the two implementations' data lines share a terminal line
    assert any("def prepare(self, data):" in line and "JL_DATA" in line
               for line in text.splitlines())
    assert "JL_VERIFY" not in text and "PY_VERIFY_HOOK" not in text
    code, text = run_show("cnn", f"{py}:CNN", str(jl), "--all", "--stacked")
    assert "JL_VERIFY" in text and "(no `# == verification ==` section)" in text


def test_one_module_holding_several_benchmarks_shows_the_one_asked_for(sources) -> None:
    py, jl = sources
    code, text = run_show("inference", f"{py}:ResNet50Features", str(jl))
    assert code == 0
    assert "PY_INF_FEATURES" in text and "JL_INF_DATA" in text
    assert "PY_DATA" not in text and "JL_DATA " not in text
    assert "(no `# == features ==` section)" in text  # the Julia fixture has none


def test_a_variant_shows_its_overriding_methods_before_the_base_section(sources) -> None:
    py, _ = sources
    extract = sections.extract(sections.source_for(f"{py}:CNNResident", "cnn"), "cnn")
    epoch = extract.sections["training epoch"]
    assert [(p.origin, p.note) for p in epoch.parts] == [
        ("_Resident", "overrides CNN.train_epoch"), ("CNN", "")]
    assert "PY_SCAN_EPOCH" in epoch.parts[0].code
    assert extract.sections["model"].parts[0].origin == "CNN"


def test_registry_names_resolve_to_their_source_files() -> None:
    source = sections.source_for("pytorch", "cnn")
    assert source.path == sections.ROOT / "py_impls" / "pytorch.py" and source.symbol == "CNN"
    extract = sections.extract(source, "cnn")
    assert set(benchmarks.get("cnn").sections) <= set(extract.sections)
    assert "nn.CrossEntropyLoss()" in extract.sections["loss and optimizer"].code
    inference = sections.extract(sections.source_for("pytorch", "inference"), "inference")
    assert "def extract" in inference.sections["features"].code


def test_errors_say_what_to_do(sources) -> None:
    py, jl = sources
    code, text = run_show("cnn", "no-such-framework", str(jl))
    assert code == 2 and "unknown implementation" in text and "pytorch" in text
    with pytest.raises(sections.ShowError, match="benchmark: rnn"):
        sections.extract(sections.source_for(str(jl), "rnn"), "rnn")
    code, text = run_show("cnn", f"{py}:CNN", "--section", "nonsense")
    assert code == 2 and "no section nonsense" in text


def test_module_level_helpers_follow_the_section_that_uses_them(sources) -> None:
    py, _ = sources
    extract = sections.extract(sections.source_for(f"{py}:CNN", "cnn"), "cnn")
    model = extract.sections["model"]
    assert [p.note for p in model.parts] == ["", "module level: make_cnn, used above",
                                             "module level: HIDDEN, used above"]
    assert "PY_HELPER" in model.parts[1].code and "PY_CONSTANT" in model.parts[2].code
    everything = "\n".join(s.code for s in extract.sections.values())
    assert "PY_UNUSED" not in everything and "def sync" not in everything
    bare = sections.extract(sections.source_for(f"{py}:CNN", "cnn"), "cnn", helpers=False)
    assert len(bare.sections["model"].parts) == 1
    code, text = run_show("cnn", f"{py}:CNN", "--no-helpers")
    assert code == 0 and "PY_HELPER" not in text


def test_helpers_imported_from_a_module_beside_it_are_followed(tmp_path: Path) -> None:
    """tf_keras builds the model keras3 defines: `show` follows the `from` import to the file
    beside it (and what that code uses there), but not into other packages."""
    (tmp_path / "shared_models.py").write_text(
        "def rnn_model():\n    return inner()  # OTHER_MODEL\n\n\n"
        "def inner():\n    pass  # OTHER_INNER\n\n\n"
        "def unused():\n    pass  # OTHER_UNUSED\n")
    (tmp_path / "impl.py").write_text(
        "from shared_models import rnn_model\n"
        "from harness.config import RNNConfig\n\n\n"
        "class RNN:\n"
        "    # == model ==\n"
        "    def build(self, config: RNNConfig, seed):\n"
        "        self.model = rnn_model()  # IMPL_MODEL\n")
    extract = sections.extract(sections.source_for(f"{tmp_path / 'impl.py'}:RNN", "rnn"), "rnn")
    parts = extract.sections["model"].parts
    assert [p.note for p in parts] == ["", "from shared_models.py: rnn_model, used above",
                                       "from shared_models.py: inner, used above"]
    assert "OTHER_INNER" in parts[2].code and parts[1].first_line == 1
    assert "OTHER_UNUSED" not in extract.sections["model"].code
