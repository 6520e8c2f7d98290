"""Charts of a themed summary, drawn on the server as inline SVG like `equality.charts`.

Counts are horizontal bars on a scale from 0 to the largest count shown in the chart, each with
its number as text; a hidden count is an empty dashed bar labelled "hidden", never a number.
Tone uses `equality.charts.stacked_chart`. Only figures disclosure control released are drawn
(the `Cell` objects of a `equality.themes.ThemeSummary`); nothing is recomputed.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from analysis.disclosure import Cell
from equality import charts
from equality.charts import BAR, BAR_HEIGHT, FONT, ROW_GAP, TEXT, TRACK, WHITE
from equality.themes import ThemeSummary, summary_json


@dataclass(frozen=True)
class CountBar:
    """One group's count; ``n`` None: hidden by disclosure control."""

    label: str
    n: int | None


@dataclass(frozen=True)
class CountSection:
    heading: str | None
    bars: Sequence[CountBar]


def count_chart(*, chart_id: str, title: str, desc: str, sections: Sequence[CountSection],
                unit: str) -> Markup:
    """Horizontal bars of counts, each under its label, with the count as text."""
    top = max((b.n or 0 for s in sections for b in s.bars), default=0) or 1
    body: list[Markup] = []
    y = 0.0
    for section in sections:
        if section.heading:
            lines, used = charts._wrapped(0, y, section.heading, weight="bold", size=FONT + 1)
            body += lines
            y += used + 4
        for bar in section.bars:
            lines, used = charts._wrapped(0, y, bar.label)
            body += lines
            y += used + 2
            body.append(charts._el("rect", {"x": "0", "y": charts._num(y), "width": "100%",
                                            "height": BAR_HEIGHT, "fill": TRACK}))
            if bar.n is None:
                body += charts._hidden_bar(y)
            else:
                share = 100 * bar.n / top
                if bar.n:
                    body.append(charts._el("rect", {
                        "x": "0", "y": charts._num(y), "width": charts._pc(share),
                        "height": BAR_HEIGHT, "fill": BAR, "class": "speakup-chart__bar"}))
                inside = share >= 75
                body.append(charts._text(charts._pc(share), y + BAR_HEIGHT / 2 + 5,
                                         f"{bar.n:,} {unit}", dx=-6 if inside else 6,
                                         anchor="end" if inside else "start",
                                         fill=WHITE if inside else TEXT, weight="bold"))
            y += BAR_HEIGHT + ROW_GAP
        y += 6
    return charts._svg(chart_id, title, desc, max(y, 1), body)


@dataclass(frozen=True)
class SummaryCharts:
    """The charts of one summary: counts in the period, each mentioned theme's trend, and tone
    (None when no theme was mentioned). Themes nobody mentioned are left out of the charts;
    the tables list them."""

    overview: Markup | None
    trends: dict[str, Markup]
    tone: Markup | None


def _hidden_note(cells: Sequence[Cell], k: int) -> str:
    hidden = sum(1 for c in cells if c.n is None)
    if not hidden:
        return ""
    return (f" {hidden} figure{'s are' if hidden > 1 else ' is'} hidden to protect people in "
            f"small groups (fewer than {k}, or where a small group could be worked out).")


def _left_out(summary: ThemeSummary, shown: int) -> str:
    left = len(summary.sections) - shown
    if not left:
        return ""
    return (f" {left} theme{'s' if left > 1 else ''} that no one mentioned "
            f"{'are' if left > 1 else 'is'} left out.")


_CHARTS_KEPT = 64
_charts: OrderedDict[bytes, SummaryCharts] = OrderedDict()
_charts_lock = threading.Lock()


def summary_charts(summary: ThemeSummary) -> SummaryCharts:
    """The charts of ``summary``, drawn once per summary in this process (a kept summary is
    viewed again and again; its charts hold released figures only, never a quote)."""
    key = hashlib.sha256(summary_json(summary)).digest()
    with _charts_lock:
        found = _charts.get(key)
        if found is not None:
            _charts.move_to_end(key)
            return found
    drawn = _draw(summary)
    with _charts_lock:
        _charts[key] = drawn
        while len(_charts) > _CHARTS_KEPT:
            _charts.popitem(last=False)
    return drawn


def _draw(summary: ThemeSummary) -> SummaryCharts:
    unit = summary.unit
    labels = ["Everyone", *(c.label for c in summary.columns)]
    current = [s for s in summary.sections if any(c.n != 0 for c in s.current)]
    if summary.columns:
        sections = [CountSection(s.theme.label, [CountBar(label, cell.n) for label, cell
                                                 in zip(labels, s.current, strict=True)])
                    for s in current]
        per = f" by {(summary.breakdown_label or '').lower()}"
    else:
        sections = [CountSection(None, [CountBar(s.theme.label, s.current[0].n)
                                        for s in current])]
        per = ""
    overview = count_chart(
        chart_id="overview-chart", unit=unit,
        title=f"{unit.capitalize()} mentioning each theme{per}, {summary.period_text}",
        desc=("Horizontal bars: the number of " + unit + " mentioning each theme."
              + _left_out(summary, len(current))
              + _hidden_note([c for s in current for c in s.current], summary.k)
              + " The same figures are in the table below."),
        sections=sections) if current else None
    trends = {}
    for number, section in enumerate(summary.sections, start=1):
        if not section.mentioned:
            continue
        cells = [row.cells[0] for row in section.trend]
        grain = summary.grain
        trends[section.theme.id] = count_chart(
            chart_id=f"theme{number}-trend", unit=unit,
            title=f"{unit.capitalize()} mentioning {section.theme.label.lower()}, by {grain}",
            desc=(f"Horizontal bars, one per {grain}, oldest first: the number of {unit} "
                  "mentioning the theme." + _hidden_note(cells, summary.k)
                  + " The same figures are in the table below."),
            sections=[CountSection(None, [CountBar(row.label, row.cells[0].n)
                                          for row in section.trend])])
    toned = [s for s in summary.sections if s.tone.n != 0]
    stacks = [charts.Stack(s.theme.label,
                           None if s.tone.counts is None
                           else [s.tone.counts.get(t, 0) for t, _ in summary.tones],
                           hidden=charts.is_hidden(s.tone),
                           note="" if s.tone.n is None
                           else f"{s.tone.n:,}\N{NO-BREAK SPACE}{unit}")
              for s in toned]
    tone = charts.stacked_chart(
        chart_id="tone-chart", title=f"Tone of what was said about each theme, "
                                     f"{summary.period_text}",
        desc=("Stacked bars: the share of " + unit + " mentioning each theme whose words were "
              "negative, neutral or positive, with a legend of patterns above. A theme's tone "
              "is hidden when its group is small or everyone in it was in one tone group."
              + _left_out(summary, len(toned)) + " The same figures are in the table below."),
        options=summary.tones, favourable=("neutral", "positive"), stacks=stacks) if toned else None
    return SummaryCharts(overview, trends, tone)
