"""Pure helpers: medians, growth against size, and the final targets table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

Verdict = Literal["PASS", "MISS", "ERROR", "n/a"]

LINEAR_SLACK: Final = 1.5
"""Growth is "close to linear" when the time at the largest size is at most this many times what a
straight line through the smallest and the second-largest size predicts (a quadratic term shows up
as the last step costing far more per item than the steps before it)."""


@dataclass(frozen=True)
class Row:
    """One target of the issue and how this run did against it."""

    target: str
    measured: str
    limit: str
    verdict: Verdict
    note: str = ""


def verdict(ok: bool | None) -> Verdict:
    """PASS for True, MISS for False, ERROR for None (not measured because something broke)."""
    if ok is None:
        return "ERROR"
    return "PASS" if ok else "MISS"


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values."""
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Growth:
    """Time against size: ratios to the smallest size, per-item time and a linearity verdict."""

    sizes: tuple[int, ...]
    times: tuple[float, ...]
    ratios: tuple[float, ...]
    """time / time at the smallest size."""
    per_item: tuple[float, ...]
    """time / size."""
    predicted_last: float
    """The largest size's time on a straight line through the smallest and second-largest sizes."""
    linear: bool


def growth(sizes: Sequence[int], times: Sequence[float]) -> Growth:
    """Growth of ``times`` over increasing ``sizes`` (at least two points)."""
    if len(sizes) != len(times) or len(sizes) < 2:
        raise ValueError("growth needs at least two (size, time) points")
    n0, n1, t0, t1 = sizes[0], sizes[-2], times[0], times[-2]
    slope = max((t1 - t0) / (n1 - n0), 0.0)
    predicted = t0 + slope * (sizes[-1] - n0)
    return Growth(
        sizes=tuple(sizes),
        times=tuple(times),
        ratios=tuple(t / t0 for t in times),
        per_item=tuple(t / n for t, n in zip(times, sizes, strict=True)),
        predicted_last=predicted,
        linear=times[-1] <= LINEAR_SLACK * predicted,
    )


def describe_growth(g: Growth, unit: str = "ms", scale: float = 1000.0) -> str:
    """One line: ``1:0.12ms 8:0.40ms(x3.3) 64:2.9ms(x24)``."""
    parts = []
    for n, t, r in zip(g.sizes, g.times, g.ratios, strict=True):
        shown = f"{n}:{number(t * scale)}{unit}"
        parts.append(shown if n == g.sizes[0] else f"{shown}(x{r:.2g})")
    return " ".join(parts)


def number(value: float) -> str:
    """A measurement with sensible digits: 1234, 56.7, 8.91, 0.12."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_table(rows: Sequence[Row], headers: Sequence[str] | None = None) -> str:
    """A fixed-width text table of ``rows`` (target, measured, limit, result, note)."""
    head = list(headers or ("target", "measured", "limit", "result", "note"))
    cells = [[r.target, r.measured, r.limit, r.verdict, r.note] for r in rows]
    return format_grid(head, cells)


def format_grid(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a rule under the header, no trailing spaces."""
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def markdown_table(rows: Sequence[Row]) -> str:
    """The targets table as Markdown, for docs/performance.md."""
    out = ["| target | measured | limit | result | note |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = [r.target, r.measured, r.limit, f"**{r.verdict}**", r.note]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out)
