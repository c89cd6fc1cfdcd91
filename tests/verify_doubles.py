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
    "claims-bf16": {"cnn": "tests.broken_impls:ClaimsBf16"},
}
# The doubles verify also checks at bf16-mixed (PyTorch's autocast, as the pytorch row).
BF16 = {"claims-bf16", "broken-ln-eps", "broken-flatten"}

ROWS = [Row(name=name, framework="PyTorch", language="python", entry_points=entries,
            description="test double",
            precisions={"bf16-mixed": "torch.autocast"} if name in BF16 else {})
        for name, entries in ENTRY_POINTS.items()]
