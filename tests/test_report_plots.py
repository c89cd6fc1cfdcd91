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


def bars(figure) -> BarContainer:
    (axes,) = figure.axes
    containers = [c for c in axes.containers if isinstance(c, BarContainer)]
    assert len(containers) == 1
    return containers[0]


def test_one_bar_per_measured_row_with_min_max_whiskers(sections) -> None:
    cnn = sections[0]  # jax-flax (2 ok of 3), pytorch (3), keras-tensorflow (crashed)
    figure = plots.time_figure(cnn)
    container = bars(figure)
    assert len(container) == 2
    assert [bar.get_width() for bar in container] == [14.5, 21.0]
    (axes,) = figure.axes
    assert [t.get_text() for t in axes.get_yticklabels()] == ["jax-flax", "pytorch",
                                                              "keras-tensorflow"]
    texts = [t.get_text() for t in axes.texts]
    assert "no result: crashed" in texts  # the failed row keeps its place, with why
    whiskers = [c for c in axes.containers if not isinstance(c, BarContainer)]
    (segments,) = [c.lines[2][0].get_segments() for c in whiskers]
    assert [tuple(s[:, 0]) for s in segments] == [(14.0, 15.0), (20.0, 22.0)]


def test_inference_bars_and_no_accuracy_plot(sections) -> None:
    inference = sections[2]
    assert len(bars(plots.time_figure(inference))) == 2
    assert plots.accuracy_figure(inference) is None


def test_accuracy_scatter_has_a_point_per_row_and_the_pareto_front(sections) -> None:
    figure = plots.accuracy_figure(sections[0])
    (axes,) = figure.axes
    labels = sorted(t.get_text() for t in axes.texts if isinstance(t, Annotation))
    assert labels == ["jax-flax", "pytorch"]  # keras-tensorflow has no result to place
    assert [g.impl for g in plots.pareto_front(sections[0].groups[:2])] == ["jax-flax",
                                                                            "pytorch"]


def test_a_slower_and_less_accurate_row_is_off_the_pareto_front(tmp_path: Path) -> None:
    path = write_results(tmp_path / "r.jsonl", [
        record("cnn", "fast", 10.0, 0.70), record("cnn", "accurate", 20.0, 0.80),
        record("cnn", "dominated", 30.0, 0.75)], damaged=False)
    (section,) = build_sections(load_results([path]).records)
    assert [g.impl for g in plots.pareto_front(section.groups)] == ["fast", "accurate"]


def test_plots_are_written_as_png_files(sections, tmp_path: Path) -> None:
    written = plots.write_plots(sections, tmp_path / "plots")
    # time plots for the 3 tables, accuracy plots for the 2 training tables
    assert len(written) == 5
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
    assert [g.impl for g in groups] == ["jax-flax", "pytorch", "keras-tensorflow"]
    assert not groups[0].reference and groups[1].reference and groups[2].reference
    markers = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
               for line in axes.get_lines() if line.get_label().startswith("original")}
    assert markers == {f"original project, {gpu} ({year})":
                       ([groups[1].reference[gpu].value, groups[2].reference[gpu].value], [1, 2])
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
