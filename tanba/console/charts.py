"""Bar charts as plain geometry, drawn as inline SVG by the templates (no script, no build).

Labels are data (site names come from crawled pages): the template puts them
in SVG text nodes, where Jinja2's autoescaping keeps them text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    href: str = ""


@dataclass(frozen=True)
class Chart:
    """One chart: its size, bars, and how many categories were left out (beyond ``top``)."""

    key: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    hidden: int = 0
    columns: bool = False  # True: vertical columns over time; False: horizontal bars

    @property
    def empty(self) -> bool:
        return not self.bars


LABEL_W = 120
ROW_H = 18


def horizontal(
    key: str,
    counts: Mapping[str, int],
    *,
    top: int = 10,
    width: int = 320,
    label: Callable[[str], str] = str,
    href: Callable[[str], str] = lambda _k: "",
    other: int = 0,
    other_label: str = "other",
) -> Chart:
    """Bars for the ``top`` largest categories, largest first.

    ``other`` alerts (of values the store left out, see ``AlertStore.top_counts``)
    make one last bar without a link, so the chart still adds up to the list's total.
    """
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ranked[:top]
    rest = sum(n for _, n in ranked[top:]) + other
    peak = max((n for _, n in shown), default=0) or 1
    span = width - LABEL_W - 50
    bars = tuple(
        Bar(
            label=label(k),
            value=n,
            x=LABEL_W,
            y=i * ROW_H + 2,
            width=max(1.0, round(span * n / peak, 1)),
            height=ROW_H - 5,
            href=href(k),
        )
        for i, (k, n) in enumerate(shown)
    )
    if rest:
        bars += (
            Bar(
                label=other_label,
                value=rest,
                x=LABEL_W,
                y=len(bars) * ROW_H + 2,
                width=max(1.0, round(span * min(rest, peak) / peak, 1)),
                height=ROW_H - 5,
            ),
        )
    return Chart(key, width, max(ROW_H, len(bars) * ROW_H + 4), bars)


def columns(
    key: str,
    counts: Mapping[str, int],
    *,
    last: int = 60,
    width: int = 320,
    height: int = 110,
    href: Callable[[str], str] = lambda _k: "",
) -> Chart:
    """Columns for the ``last`` keys in sorted order (days), oldest on the left."""
    items = sorted(counts.items())
    shown = items[-last:]
    peak = max((n for _, n in shown), default=0) or 1
    plot_h = height - 30
    step = min((width - 10) / max(len(shown), 1), 24.0)  # one day is a column, not a slab
    bars = tuple(
        Bar(
            label=k,
            value=n,
            x=round(5 + i * step, 1),
            y=round(10 + plot_h - plot_h * n / peak, 1),
            width=max(1.0, round(step * 0.8, 1)),
            height=max(1.0, round(plot_h * n / peak, 1)),
            href=href(k),
        )
        for i, (k, n) in enumerate(shown)
    )
    return Chart(key, width, height, bars, len(items) - len(shown), columns=True)
