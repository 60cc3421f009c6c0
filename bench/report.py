"""Tally of benchmark queries per row (alteration) and method, and the table that prints it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Tally:
    """One row × method: how many queries, how many found their work, and the scores seen."""

    queries: int = 0
    found: int = 0
    false_matches: int = 0
    weakest_true: float | None = None  # lowest score of an accepted true match
    strongest_false: float | None = None  # highest score given to a wrong work, accepted or not
    offset_errors: list[float] = field(default_factory=list)

    def add(
        self,
        scores: dict[str, float],
        truth: str | None,
        accept: Callable[[str, float], bool],
        offset_error: float | None = None,
    ) -> None:
        """Count one query: ``scores`` by work, ``accept(work_id, score)`` the method's verdict."""
        self.queries += 1
        for work_id, score in scores.items():
            accepted = accept(work_id, score)
            if work_id == truth:
                if accepted:
                    self.found += 1
                    self.weakest_true = _min(self.weakest_true, score)
                    if offset_error is not None:
                        self.offset_errors.append(offset_error)
            else:
                self.strongest_false = _max(self.strongest_false, score)
                self.false_matches += accepted

    def merge(self, other: Tally) -> None:
        self.queries += other.queries
        self.found += other.found
        self.false_matches += other.false_matches
        self.weakest_true = _min(self.weakest_true, other.weakest_true)
        self.strongest_false = _max(self.strongest_false, other.strongest_false)
        self.offset_errors += other.offset_errors


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


class Table:
    """Tallies by (row, method), printed as one line per row with the methods side by side."""

    def __init__(self, methods: list[str]) -> None:
        self.methods = methods
        self.rows: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
        self.order: list[str] = []

    def tally(self, row: str, method: str) -> Tally:
        if row not in self.order:
            self.order.append(row)
        return self.rows[row][method]

    def total(self, rows: list[str], method: str) -> Tally:
        total = Tally()
        for row in rows:
            total.merge(self.rows[row][method])
        return total

    def render(self, *, offsets: bool = False, true_rows: list[str] | None = None) -> str:
        head = f"{'row':<18}{'n':>6}"
        for m in self.methods:
            head += f" | {m:<18.18} {'recall':>6} {'false':>5} {'weakest':>7} {'strongest':>9}"
            if offsets and m == self.methods[0]:
                head += f" {'offset':>6}"
        lines = [head, "-" * len(head)]
        rows = list(self.order)
        if true_rows:
            rows.append("ALL (copies)")
        for row in rows:
            tallies = (
                {m: self.total(true_rows or [], m) for m in self.methods}
                if row == "ALL (copies)"
                else self.rows[row]
            )
            n = tallies[self.methods[0]].queries
            line = f"{row:<18}{n:>6}" if len(row) <= 18 else f"{row}\n{'':<18}{n:>6}"
            for m in self.methods:
                t = tallies[m]
                recall = (
                    f"{t.found / t.queries:.3f}" if t.queries and "distractors" not in row else "-"
                )
                line += (
                    f" | {'':<18} {recall:>6} {t.false_matches:>5} "
                    f"{_fmt(t.weakest_true):>7} {_fmt(t.strongest_false):>9}"
                )
                if offsets and m == self.methods[0]:
                    worst = max(t.offset_errors) if t.offset_errors else None
                    line += f" {_fmt(worst):>6}"
            lines.append(line)
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
