"""The console's charts: SVG drawn on the server with pygal, shown as `<img>` data URIs.

An image needs no script and no request of its own, and passes the pages' strict
Content-Security-Policy (`img-src 'self' data:`). pygal is told to load no JavaScript (`js=[]`),
and the small config script it still writes is removed (a script never runs in an `<img>`, but
it has no business being there). Each chart is drawn once per distinct content: the same
figures in the same language give the same picture, so a cache serves repeated views.

Every chart also comes with its numbers as a table in the page, for screen readers and for
anyone who would rather read than look.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

ChartKind = Literal["bar", "hbar"]  # vertical or horizontal bars
_SCRIPT = re.compile(rb"<script\b.*?</script>", re.DOTALL)
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_COLORS = ("#1f5fbf", "#b3261e", "#e08a00", "#1e7a3c")
_STYLE = dict(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1d2330",
    foreground_strong="#1d2330",
    foreground_subtle="#d8dce4",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=13,
    value_label_font_size=13,
    tooltip_font_size=13,
    guide_stroke_color="#c9ced8",
    major_guide_stroke_color="#c9ced8",
)


@dataclass(frozen=True)
class Chart:
    """One chart: what it shows (title, for the image's alt text and the table's caption), its
    labelled values (for the table), and the picture as a `data:` URI."""

    title: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    image: str

    @property
    def rows(self) -> list[tuple[str, int]]:
        return list(zip(self.labels, self.values, strict=True))

    @property
    def alt(self) -> str:
        return self.title + ": " + ", ".join(f"{label} {value:,}" for label, value in self.rows)


def chart(
    kind: ChartKind,
    title: str,
    labels: tuple[str, ...],
    values: tuple[int, ...],
    *,
    height: int = 300,
    color: int = 0,
) -> Chart:
    """A chart of `values` (one per label) as a `Chart`, drawn or taken from the cache."""
    return Chart(title, labels, values, _draw(kind, labels, values, height, color))


@lru_cache(maxsize=256)
def _draw(
    kind: ChartKind, labels: tuple[str, ...], values: tuple[int, ...], height: int, color: int
) -> str:
    # Imported on the first chart drawn, not at start-up: pygal costs the server's start a
    # good part of a second and only two console pages draw charts.
    import pygal
    from pygal.style import Style

    style = Style(colors=(*_COLORS[color:], *_COLORS[:color]), **_STYLE)
    ticks = _ticks(max(values, default=0))
    options: dict[str, Any] = {
        "js": [],
        "style": style,
        "show_legend": False,
        "width": 640,
        "height": height,
        "print_values": True,
        "value_formatter": lambda value: f"{value:,.0f}",
        "margin": 12,
        "margin_right": 36,  # room for the last value label of a horizontal axis
        "show_y_guides": kind == "bar",
        "show_x_guides": kind == "hbar",
        "truncate_label": 24,
        "print_zeroes": False,
        # Counts: the axis starts at 0 and has whole-number ticks, even when every value is 0.
        "y_labels": ticks,
        "range": (0, ticks[-1]),
    }
    if kind == "bar":
        draw: pygal.graph.graph.Graph = pygal.Bar(
            x_label_rotation=-35 if len(labels) > 8 else 0, **options
        )
    else:
        draw = pygal.HorizontalBar(**options)
        # pygal draws the first label at the bottom: reverse so the list reads top-down.
        labels, values = labels[::-1], values[::-1]
    draw.x_labels = list(labels)
    draw.add("", list(values))
    svg = _COMMENT.sub(b"", _SCRIPT.sub(b"", draw.render()))
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _ticks(top: int) -> list[int]:
    """Whole-number ticks from 0 to at least `top`: at most seven, in steps of 1, 2 or 5
    times a power of ten."""
    steps = (m * 10**k for k in range(16) for m in (1, 2, 5))
    step = next(step for step in steps if top <= 6 * step)
    last = max(1, -(-top // step)) * step
    return list(range(0, last + 1, step))
