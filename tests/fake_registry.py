"""Registry rows for the fake implementations (loaded with HARNESS_PLUGINS=tests.fake_registry)."""

from harness.registry import Row

FAKES = {
    "fake-ok": "ZeroFeatures",
    "fake-raises": "RaisesOnBuild",
    "fake-hangs": "Hangs",
    "fake-exits": "ExitsAbruptly",
    "fake-killed": "KilledBySignal",
    "fake-ok2": "ZeroFeatures",
}

ROWS = [
    Row(name=name, framework="NumPy", language="python",
                   entry_points={"inference": f"tests.fake_impls:{cls}",
                                 "cnn": "tests.fake_impls:SoftmaxRegression"},
                   description=f"test double: {cls}")
    for name, cls in FAKES.items()
]
