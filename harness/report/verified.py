"""`verify` outcomes beside the measured rows: a record written by `python -m harness verify`
(`"record": "verify"`) is not a run to rank; `report` (terminal, Markdown, HTML) shows it as a
✓/✗ cell on the row of the same benchmark, implementation and kind of device, with the check
that came nearest its tolerance (harness.verify.checks: relative errors against the oracle)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from harness.metrics import number
from harness.verify import init_rule

PASSED = "passed"


def is_verify_record(record: Any) -> bool:
    return isinstance(record, dict) and record.get("record") == "verify"


@dataclass(frozen=True)
class Verified:
    status: str  # passed, failed, skipped, crashed, ...
    check: str  # the check nearest its tolerance ("" when none was made)
    rel: float | None  # its relative error against the oracle
    tolerance: float | None
    checks: int  # checks made
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def mark(self) -> str:
        return "✓" if self.passed else "✗" if self.status == "failed" else "-"

    @property
    def cell(self) -> str:
        """Short, for a table: "✓ 2.0e-04", "✗ 0.44", "- skipped"."""
        if self.rel is None:
            return f"{self.mark} {self.status}"
        return f"{self.mark} {self.rel:.2g}" if self.rel >= 0.01 else f"{self.mark} {self.rel:.1e}"

    @property
    def detail(self) -> str:
        """One sentence, for a footnote or a tooltip."""
        if self.rel is None:
            return f"verify {self.status}" + (f": {self.reason}" if self.reason else "")
        return (f"verify {self.status}: {self.checks} checks against the float64 oracle; "
                f"nearest its tolerance: {self.check}, relative error {self.rel:.2e} "
                f"(tolerance {self.tolerance:.0e})")


def outcome(record: dict[str, Any]) -> Verified:
    # Against the oracle only: the initialisation rule's checks measure a distribution.
    made = [c for c in record.get("checks") or [] if isinstance(c, dict)
            and number(c.get("rel")) is not None and number(c.get("tolerance"))
            and not str(c.get("name", "")).startswith(init_rule.PREFIX)]
    worst = max(made, key=lambda c: c["rel"] / c["tolerance"], default=None)
    reason = " ".join(str(record.get("reason") or "").split())
    status = str(record.get("status") or "unknown")
    if worst is None:
        return Verified(status, "", None, None, 0, reason)
    return Verified(status, str(worst.get("name") or "?"), float(worst["rel"]),
                    float(worst["tolerance"]), len(made), reason)


def key(record: dict[str, Any]) -> tuple[str, str, str, str]:
    """Which rows a verify record speaks for: benchmark, implementation, variant (a precision,
    say), cpu or cuda."""
    device = "cuda" if str(record.get("device") or "cpu").lower() == "cuda" else "cpu"
    return (str(record.get("benchmark")), str(record.get("impl")),
            str(record.get("variant") or "default"), device)


def latest(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str, str], Verified]:
    """The newest verify outcome of each (benchmark, impl, variant, device kind)."""
    found: dict[tuple[str, str, str, str], tuple[str, Verified]] = {}
    for record in records:
        stamp = str(record.get("finished_at") or record.get("started_at") or "")
        k = key(record)
        if k not in found or stamp >= found[k][0]:
            found[k] = (stamp, outcome(record))
    return {k: v for k, (_, v) in found.items()}
