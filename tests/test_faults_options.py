"""Bad option values are refused by the parser with one line and exit code 2, before anything
runs; `--impl` with an empty or unknown name lists the known names; a command where nothing
ran or was verified exits nonzero."""

from __future__ import annotations

import pytest

from harness import commands as cli
from harness import benchmarks, registry
from tests import fake_registry

RUN_COMMANDS = [*benchmarks.names(), "all"]
SEED_RANGE = "4294967295 (2**32 - 1, the seeds every framework accepts)"


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + fake_registry.ROWS)
    monkeypatch.setenv("HARNESS_PLUGINS", "tests.fake_registry")  # the children know them too


def refused_by_parser(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", RUN_COMMANDS)
@pytest.mark.parametrize("option, value, says", [
    ("--repeat", "0", "must be at least 1, not 0"),
    ("--repeat", "-1", "must be at least 1, not -1"),
    ("--repeat", "two", "must be a whole number, not 'two'"),
    ("--timeout", "-5", "must be a number of seconds above 0, not -5"),
    ("--timeout", "0", "must be a number of seconds above 0, not 0 (leave --timeout out for "
                       "the default)"),
    ("--timeout", "nan", "must be a number of seconds above 0, not nan"),
    ("--seed", "-1", f"must be 0 to {SEED_RANGE}, not -1"),
    ("--seed", str(2**32), f"must be 0 to {SEED_RANGE}, not 4294967296"),
    ("--seed", "99999999999999999999999", f"must be 0 to {SEED_RANGE}, not 99999999999999999999999"),
])
def test_bad_run_option_values_are_refused_before_anything_runs(tmp_path, capsys, command,
                                                                option, value, says):
    results = tmp_path / "r.jsonl"
    line = refused_by_parser(capsys, [command, "--impl", "fake-ok", option, value,
                                      "--results", str(results)])
    assert f"error: argument {option}: {says}" in line
    assert not results.exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize("option, value, says", [
    ("--timeout", "0", "must be a number of seconds above 0, not 0"),
    ("--timeout", "-1", "must be a number of seconds above 0, not -1"),
    ("--image-size", "0", "must be at least 1, not 0"),
    ("--seed", "-3", f"must be 0 to {SEED_RANGE}, not -3"),
    ("--seed", str(2**64), f"must be 0 to {SEED_RANGE}, not {2**64}"),
])
def test_bad_verify_option_values_are_refused(tmp_path, capsys, option, value, says):
    results = tmp_path / "v.jsonl"
    line = refused_by_parser(capsys, ["verify", "--impl", "fake-ok", option, value,
                                      "--results", str(results)])
    assert f"error: argument {option}: {says}" in line
    assert not results.exists()


def test_the_largest_seed_is_accepted_and_one_more_refused(capsys):
    assert cli.build_parser().parse_args(["cnn", "--seed", str(2**32 - 1)]).seed == 2**32 - 1
    line = refused_by_parser(capsys, ["data", "weights", "cnn", "--seed", str(2**32)])
    assert f"error: argument --seed: must be 0 to {SEED_RANGE}, not 4294967296" in line


@pytest.mark.parametrize("command", ["inference", "verify"])
@pytest.mark.parametrize("names, says", [
    ("", "an empty name in --impl; known: "),
    ("fake-ok,,fake-ok2", "an empty name in --impl; known: "),
    (" ", "an empty name in --impl; known: "),
    ("nonesuch", "unknown implementation 'nonesuch'; known: "),
])
def test_an_empty_or_unknown_implementation_lists_the_known_names(tmp_path, capsys, command,
                                                                   names, says):
    results = tmp_path / "r.jsonl"
    assert cli.main([command, "--impl", names, "--results", str(results)]) == 2
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and out.startswith(says)
    assert "pytorch" in out and "fake-ok2" in out
    assert not results.exists()


def test_a_run_whose_every_row_was_skipped_exits_nonzero(tmp_path, capsys):
    """Real data asked for and none there: every row is skipped with the fix, so nothing the
    command was asked to do happened."""
    results = tmp_path / "r.jsonl"
    code = cli.main(["cnn", "--impl", "fake-ok,fake-ok2", "--data", "real", "--data-dir",
                     str(tmp_path / "empty"), "--profile", "quick", "--results", str(results)])
    assert code == 1
    out = capsys.readouterr().out
    assert "Nothing ran: every selected implementation was skipped" in out
    assert "data fetch cifar10" in out  # the reason and its fix, in the table
    assert not results.exists()


def test_a_run_of_rows_that_do_not_implement_the_benchmark_exits_nonzero(tmp_path, capsys):
    assert cli.main(["rnn", "--impl", "fake-ok", "--profile", "quick",
                     "--results", str(tmp_path / "r.jsonl")]) == 1
    assert "Nothing ran: no implementation named by --impl implements rnn" in \
        capsys.readouterr().out


def test_a_verify_that_verified_nothing_exits_nonzero(tmp_path, capsys):
    assert cli.main(["verify", "--impl", "fake-ok", "--benchmark", "rnn",
                     "--results", str(tmp_path / "v.jsonl")]) == 1
    assert "Nothing was verified" in capsys.readouterr().out

