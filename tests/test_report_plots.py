"""`report --plots`: bar charts with the expected bars, the accuracy/time scatter, valid PNGs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install -e '.[report]'")

from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.image import imread  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from harness.report import plots  # noqa: E402
from harness.report.groups import build_sections, load_results  # noqa: E402
from tests.report_fixtures import record, standard_records, write_results  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sections(tmp_path: Path):
    path = write_results(tmp_path / "results.jsonl", standard_records())
    return build_sections(load_results([path]).records)


def bars(figure, stacked: bool = False) -> BarContainer:
    """The steady-state bars (the first container); with `stacked`, (steady, warm-up)."""
    (axes,) = figure.axes
    containers = [c for c in axes.containers if isinstance(c, BarContainer)]
    assert len(containers) == (2 if stacked else 1)
    return tuple(containers) if stacked else containers[0]


def test_one_stacked_bar_per_measured_row_with_whiskers_from_the_steady_spread(sections) -> None:
    cnn = sections[0]  # pytorch (3 runs), jax-flax (2 ok of 3), keras-tensorflow (crashed)
    figure = plots.time_figure(cnn)
    steady, warmup = bars(figure, stacked=True)
    assert len(steady) == len(warmup) == 2
    groups = cnn.groups
    for bar, warm, group in zip(steady, warmup, groups):
        # compile + warm-up (here the schema-1 first epoch) then the rest: the training time
        assert warm.get_width() == pytest.approx(group.metric("first_epoch_s").median)
        assert bar.get_x() == pytest.approx(warm.get_width())
        assert bar.get_x() + bar.get_width() == pytest.approx(group.metric("train_s").median)
    (axes,) = figure.axes
    assert [t.get_text() for t in axes.get_yticklabels()] == ["pytorch", "jax-flax",
                                                              "keras-tensorflow"]
    texts = [t.get_text() for t in axes.texts]
    assert "no result: crashed" in texts  # the failed row keeps its place, with why
    whiskers = [c for c in axes.containers if not isinstance(c, BarContainer)]
    (segments,) = [c.lines[2][0].get_segments() for c in whiskers]
    torch = groups[0]
    rest = torch.metric("train_s").median - torch.metric("first_epoch_s").median
    low, high = segments[0][:, 0]  # the rest of training at the fastest and slowest window
    assert low == pytest.approx(steady[0].get_x() + rest * 21 / 22)
    assert high == pytest.approx(steady[0].get_x() + rest * 21 / 20)


def test_inference_bars_and_no_accuracy_plot(sections) -> None:
    inference = sections[2]
    assert len(bars(plots.time_figure(inference))) == 2
    assert plots.accuracy_figure(inference) is None


def test_accuracy_scatter_has_a_point_per_row_and_the_pareto_front(sections) -> None:
    figure = plots.accuracy_figure(sections[0])
    (axes,) = figure.axes
    labels = sorted(t.get_text() for t in axes.texts if isinstance(t, Annotation))
    assert labels == ["jax-flax", "pytorch"]  # keras-tensorflow has no result to place
    # pytorch: 21 samples/s, 0.77; jax-flax: 14.5 samples/s (longer training), 0.755
    assert [g.impl for g in plots.pareto_front(sections[0].groups[:2])] == ["pytorch"]


def test_no_accuracy_front_for_generated_data(sections) -> None:
    quick = next(s for s in sections if s.data == "synthetic")
    assert plots.accuracy_figure(quick) is None  # seed noise, not a trade-off


def test_a_slower_and_less_accurate_row_is_off_the_pareto_front(tmp_path: Path) -> None:
    path = write_results(tmp_path / "r.jsonl", [
        record("cnn", "fast", 30.0, 0.70), record("cnn", "accurate", 15.0, 0.80),
        record("cnn", "dominated", 10.0, 0.75)], damaged=False)  # samples/s
    (section,) = build_sections(load_results([path]).records)
    assert [g.impl for g in plots.pareto_front(section.groups)] == ["fast", "accurate"]


def test_plots_are_written_as_png_files(sections, tmp_path: Path) -> None:
    written = plots.write_plots(sections, tmp_path / "plots")
    # time plots for the 3 tables, an accuracy plot for the training table on real data
    assert len(written) == 4
    for path in written:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        height, width, _ = imread(path).shape
        assert width > 500 and height > 150
    assert {p.name for p in written} >= {"cnn-full-real-nvidia-h100-80gb-hbm3-time.png",
                                         "cnn-full-real-nvidia-h100-80gb-hbm3-accuracy.png"}


def test_the_original_projects_figures_are_markers_beside_their_rows(sections) -> None:
    """Full profile: each row with a counterpart in the original (pytorch; keras-tensorflow, even
    though it crashed here) carries its K80 and P100 times as markers on its line; jax-flax has
    none; the quick-profile table has none."""
    (axes,) = plots.time_figure(sections[0]).axes
    groups = sections[0].groups
    assert [g.impl for g in groups] == ["pytorch", "jax-flax", "keras-tensorflow"]
    assert groups[0].reference and not groups[1].reference and groups[2].reference
    markers = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
               for line in axes.get_lines() if line.get_label().startswith("original")}
    assert markers == {f"original project, {gpu} ({year})":
                       ([groups[0].reference[gpu].value, groups[2].reference[gpu].value], [0, 2])
                       for gpu, year in (("K80", 2017), ("P100", 2018))}
    assert axes.get_xlim()[1] >= max(f.value for g in groups for f in g.reference.values())
    quick = next(s for s in sections if s.profile == "quick")
    (axes,) = plots.time_figure(quick).axes
    assert not [line for line in axes.get_lines() if line.get_label().startswith("original")]


def test_percent_of_peak_has_a_bar_per_measured_row_and_says_which_were_not(tmp_path: Path):
    from tests.test_report import utilisation_records

    path = write_results(tmp_path / "results.jsonl", utilisation_records())
    (section,) = build_sections(load_results([path]).records)
    figure = plots.peak_figure(section)
    widths = sorted(round(bar.get_width(), 1) for bar in bars(figure))
    assert widths == [62.5, 81.0]
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert " 81%  (55,000 GFLOP/s)" in texts and " not measured" in texts
    written = plots.write_plots([section], tmp_path / "plots")
    assert any(p.name.endswith("-peak.png") for p in written)


def test_no_peak_plot_for_results_from_before_it_was_measured(sections) -> None:
    assert all(plots.peak_figure(section) is None for section in sections)
