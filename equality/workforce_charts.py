"""Charts of the workforce figures, drawn on the server as inline SVG like `equality.charts`.

Two kinds the survey charts lack: relative likelihoods on a log scale with NHS England's
non-adverse range (0.80 to 1.25) drawn as a shaded reference band (a reference, not a verdict:
no colour says good or bad), and representation against a target (a bar for the share, a
tick for the target). Everything else reuses `equality.charts` (interval, bar, stacked and
trend charts). Only figures that `equality.payload` released are drawn; a hidden figure is a
dashed "hidden" bar, never a number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from equality import charts
from equality.charts import BAR, BAR_HEIGHT, GRID, ROW_GAP, SECONDARY, SMALL, TEXT, TRACK

BAND_FILL = "#d8dde0"  # NHS.UK grey 4: the reference band, behind everything
LOW, HIGH = 0.125, 8.0  # the log axis; values beyond it are drawn at its edge
TICKS = (0.125, 0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Ratio:
    """A relative likelihood and its 95% interval; ``value`` None: hidden or not defined."""

    label: str
    value: float | None
    interval: tuple[float, float] | None
    hidden: bool = False


def _x(value: float) -> float:
    """A ratio onto 4%..96% of the width on a log scale."""
    clamped = min(HIGH, max(LOW, value))
    return 4 + 92 * (math.log(clamped) - math.log(LOW)) / (math.log(HIGH) - math.log(LOW))


def ratio_chart(*, chart_id: str, title: str, desc: str, ratios: Sequence[Ratio],
                band: tuple[float, float] = (0.8, 1.25)) -> Markup:
    """Dot and whisker per ratio on a log axis, with the reference band shaded and 1 marked."""
    body: list[Markup] = []
    y = 0.0
    rows_top = y
    for r in ratios:
        if r.value is None or r.interval is None or not math.isfinite(r.value):
            words = ("hidden to protect a small group" if r.hidden
                     else "not defined (a group had no events or nobody)")
            lines, used = charts._wrapped(0, y, f"{r.label}: {words}")
            body += lines
            y += used + 2
            if r.hidden:
                body += charts._hidden_bar(y)
            y += BAR_HEIGHT + ROW_GAP
            continue
        low, high = r.interval
        label = (f"{r.label}: {charts.ratio_text(r.value)} (95% interval "
                 f"{charts.ratio_text(low)} to\N{NO-BREAK SPACE}{charts.ratio_text(high)})")
        lines, used = charts._wrapped(0, y, label)
        body += lines
        y += used + 2
        mid = y + BAR_HEIGHT / 2
        body.append(charts._el("line", {"x1": charts._pc(_x(LOW)), "x2": charts._pc(_x(HIGH)),
                                        "y1": charts._num(mid), "y2": charts._num(mid),
                                        "stroke": TRACK, "stroke-width": 4}))
        body.append(charts._el("line", {"x1": charts._pc(_x(low)), "x2": charts._pc(_x(high)),
                                        "y1": charts._num(mid), "y2": charts._num(mid),
                                        "stroke": TEXT, "stroke-width": 2,
                                        "class": "speakup-chart__whisker"}))
        for end in (low, high):
            body.append(charts._el("line", {"x1": charts._pc(_x(end)), "x2": charts._pc(_x(end)),
                                            "y1": charts._num(y + 4),
                                            "y2": charts._num(y + BAR_HEIGHT - 4),
                                            "stroke": TEXT, "stroke-width": 2}))
        body.append(charts._el("circle", {"cx": charts._pc(_x(r.value)), "cy": charts._num(mid),
                                          "r": 6, "fill": BAR, "stroke": "#ffffff",
                                          "stroke-width": 1.5, "class": "speakup-chart__dot"}))
        y += BAR_HEIGHT + ROW_GAP
    # The reference band and the line at 1 go behind the rows (drawn first).
    behind = [
        charts._el("rect", {"x": charts._pc(_x(band[0])), "y": charts._num(rows_top),
                            "width": charts._pc(_x(band[1]) - _x(band[0])),
                            "height": charts._num(max(y - rows_top, 1)), "fill": BAND_FILL,
                            "class": "speakup-chart__reference"}),
        charts._el("line", {"x1": charts._pc(_x(1)), "x2": charts._pc(_x(1)),
                            "y1": charts._num(rows_top), "y2": charts._num(y),
                            "stroke": SECONDARY, "stroke-dasharray": "3 3"}),
    ]
    axis: list[Markup] = [charts._el("line", {"x1": charts._pc(_x(LOW)), "x2": charts._pc(_x(HIGH)),
                                              "y1": charts._num(y), "y2": charts._num(y),
                                              "stroke": GRID})]
    for tick in TICKS:
        anchor = {LOW: "start", HIGH: "end"}.get(tick, "middle")
        axis.append(charts._el("line", {"x1": charts._pc(_x(tick)), "x2": charts._pc(_x(tick)),
                                        "y1": charts._num(y), "y2": charts._num(y + 5),
                                        "stroke": GRID}))
        if tick not in (0.8, 1.25):  # the band's ends are named in the key below
            axis.append(charts._text(charts._pc(_x(tick)), y + 18, f"{tick:g}", size=SMALL,
                                     fill=SECONDARY, anchor=anchor))
    y += 26
    key = [charts._el("rect", {"x": "0", "y": charts._num(y + 2), "width": 16, "height": 16,
                               "fill": BAND_FILL, "stroke": SECONDARY})]
    lines, used = charts._wrapped(24, y, f"{band[0]:.2f} to {band[1]:.2f}: NHS England's "
                                  "non-adverse range (a reference, not a verdict)", size=SMALL)
    key += lines
    y += used + 6
    return charts._svg(chart_id, title, desc, y, [*behind, *body, *axis, *key])


@dataclass(frozen=True)
class Target:
    """A band's share (percent) against its target; ``share`` None with ``hidden``: hidden."""

    label: str
    share: float | None
    target: float
    hidden: bool = False


def target_chart(*, chart_id: str, title: str, desc: str, targets: Sequence[Target]) -> Markup:
    """A bar per band for the share, with a tall dark tick at the target, 0-100%."""
    body: list[Markup] = []
    y = 0.0
    for t in targets:
        shown = "hidden" if t.hidden else (
            "no staff" if t.share is None else charts.percent_text(t.share))
        lines, used = charts._wrapped(0, y, f"{t.label}: {shown}, target "
                                            f"{charts.percent_text(t.target)}")
        body += lines
        y += used + 2
        body.append(charts._el("rect", {"x": "0", "y": charts._num(y), "width": "100%",
                                        "height": BAR_HEIGHT, "fill": TRACK}))
        if t.hidden:
            body += charts._hidden_bar(y)
        elif t.share is not None:
            body.append(charts._el("rect", {"x": "0", "y": charts._num(y),
                                            "width": charts._pc(t.share), "height": BAR_HEIGHT,
                                            "fill": BAR, "class": "speakup-chart__bar"}))
        body.append(charts._el("line", {"x1": charts._pc(t.target), "x2": charts._pc(t.target),
                                        "y1": charts._num(y - 4),
                                        "y2": charts._num(y + BAR_HEIGHT + 4),
                                        "stroke": TEXT, "stroke-width": 3,
                                        "class": "speakup-chart__target"}))
        y += BAR_HEIGHT + ROW_GAP
    body += charts._percent_axis(y)
    y += 24
    return charts._svg(chart_id, title, desc, y, body)
