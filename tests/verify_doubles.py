"""The test doubles tests/test_verify.py checks, as plugin rows (HARNESS_PLUGINS=
tests.verify_doubles): verify's children run only entry points a registry row declares."""

from harness.registry import Row

ENTRY_POINTS = {  # name -> {benchmark: entry point}
    "broken-flatten": {"cnn": "tests.broken_impls:FlattenHWC"},
    "broken-dampening": {"cnn": "tests.broken_impls:SGDWithDampening"},
    "no-hooks": {"cnn": "tests.fake_impls:SoftmaxRegression"},
    "broken-reset-before": {"rnn": "tests.broken_impls:ResetBeforeGRU"},
    "broken-bn-eps": {"inference": "tests.broken_impls:BatchNormEps1e3"},
    "broken-ln-eps": {"transformer": "tests.broken_impls:LayerNormEps1e3"},
    "broken-tanh-gelu": {"transformer": "tests.broken_impls:TanhGelu"},
    "crashes": {"inference": "tests.fake_impls:RaisesOnBuild"},
}

ROWS = [Row(name=name, framework="PyTorch", language="python", entry_points=entries,
            description="test double") for name, entries in ENTRY_POINTS.items()]
