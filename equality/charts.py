"""Survey result charts, drawn on the server as inline SVG: no script, no inline style.

Every chart is an ``<svg role="img">`` named by its own ``<title>`` and ``<desc>``
(``aria-labelledby``). Each group's label and value are text in the SVG; a hidden group is an
empty dashed bar labelled "hidden", never a number. Positions across the chart are percentages
of its width and the SVG has no ``viewBox``, so text keeps its real size on a phone and on a
desktop. Fills have at least 3:1 contrast with white, and each answer also has a pattern of its
own, so colour is never the only cue. Everything written into the SVG is escaped
(`markupsafe.Markup.format`), and only presentation attributes are used (CSP ``style-src 'self'``).

The figures drawn are those disclosure control released (`analysis.disclosure.Release` cells,
`surveys.results.WresIndicator` sides). The only arithmetic here is the share of each answer in
a group's released counts; no hidden figure is ever recomputed.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

from analysis.disclosure import Cell, Release, count_text, why_text
from config.vocabulary import ETHNICITY_BROAD
from surveys.definition import Question, SurveyDefinition
from surveys.results import DIMENSION_LABELS, WAVE, WresIndicator, WresSide

TEXT = "#212b32"  # NHS.UK text colour
SECONDARY = "#4c6272"  # NHS.UK secondary text: 6.2:1 on white
BAR = "#005eb8"  # NHS blue: 5.1:1 on white
TRACK = "#e8edee"
GRID = "#aeb7bd"
WHITE = "#ffffff"
# Answer colours, all at least 4.5:1 on white (white text on them is legible too). Favourable
# answers take the blues and greens, the others the reds, grey and purples, in option order.
FAVOURABLE_COLOURS = ("#005eb8", "#003087", "#006747", "#00a499")
OTHER_COLOURS = ("#8a1538", "#d5281b", "#425563", "#7c2855", "#330072", "#ae2573")
# One pattern per option position, drawn in white over the colour (8 x 8 tiles).
PATTERNS = ("", "M0 8L8 0", "M2 2h1v1h-1zM6 6h1v1h-1z", "M0 4h8", "M0 8L8 0M0 0L8 8",
            "M0 0L8 8", "M4 0v8", "M0 4h8M4 0v8")

FONT = 16
SMALL = 14
LINE = 20
BAR_HEIGHT = 24
ROW_GAP = 10
WRAP = 36  # characters per label line: about 300px of Arial at 16px, narrower than a phone
UNKNOWN_LABEL = "Not known or prefer not to say"
ETHNIC_GROUPS = {"white": "White", "global-majority": "Global majority"}



def is_hidden(cell: Cell) -> bool:
    """Whether disclosure control held back the cell's n or its answers."""
    return cell.suppressed or (bool(cell.n) and cell.counts is None)


def hidden_text(cell: Cell, k: int) -> str:
    """Why ``cell``'s figures are not all shown, in plain words ("" when nothing is held back)."""
    if not is_hidden(cell):
        return ""
    return why_text(cell, k) or "Not shown, to protect a small group."


def respondents_text(cell: Cell, k: int) -> str:
    """The respondents figure as shown: "37", "Between 40 and 49", "Fewer than 11", "Hidden"."""
    text = count_text(cell, k)
    return text[:1].upper() + text[1:]


def percent_text(value: float) -> str:
    return f"{value:.1f}%"


def date_text(day: date) -> str:
    """A date as a report reads it: ``3 December 2026``."""
    return f"{day.day} {day:%B %Y}"


# --- labels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    """Words for the dimensions, values and answers of one survey, and their display order."""

    definition: SurveyDefinition
    waves: tuple[str, ...] = ()

    def dimension(self, dim: str) -> str:
        return DIMENSION_LABELS.get(dim, dim)

    def _options(self, dim: str) -> tuple[tuple[str, str], ...]:
        if dim == "ethnic_group":
            return tuple(ETHNIC_GROUPS.items())
        if dim == "ethnicity":
            return ETHNICITY_BROAD
        try:
            return self.definition.demographic(dim).options
        except KeyError:
            return ()

    def value(self, dim: str, value: str) -> str:
        if dim == WAVE:
            return value
        if value == "unknown":
            return UNKNOWN_LABEL
        return dict(self._options(dim)).get(value, value)

    def group(self, group: Mapping[str, str]) -> str:
        """``{}`` is "Everyone"; a 2-D group reads "Band 5, Medicine"."""
        if not group:
            return "Everyone"
        return ", ".join(self.value(d, v) for d, v in group.items())

    def cell(self, release: Release, cell: Cell) -> str:
        """A cell's label; the total of a table by wave is "All waves together"."""
        if not cell.group and WAVE in release.by:
            return "All waves together"
        return self.group(cell.group)

    def order(self, dim: str, values: Iterable[str]) -> list[str]:
        """``values`` in the order the survey lists them (waves oldest first), unknown last."""
        known = [w for w in self.waves] if dim == WAVE else [o for o, _ in self._options(dim)]
        position = {v: i for i, v in enumerate(known)}
        return sorted(values, key=lambda v: (v == "unknown", position.get(v, len(known)), v))

    def answer(self, question: Question, option: str) -> str:
        return dict(question.options).get(option, option)


# --- the SVG primitives -----------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _pc(value: float) -> str:
    """A percentage of the chart's width, clamped to 0..100."""
    return f"{_num(min(100.0, max(0.0, value)))}%"


def _el(tag: str, attrs: Mapping[str, object] | None = None, *children: object) -> Markup:
    """One SVG element; attribute values and text children are escaped."""
    attributes = Markup("").join(Markup(' {}="{}"').format(name, value)
                                 for name, value in (attrs or {}).items() if value is not None)
    if not children:
        return Markup("<{}{}/>").format(tag, attributes)
    return Markup("<{0}{1}>{2}</{0}>").format(tag, attributes, Markup("").join(children))


def _text(x: str | float, y: float, content: str, *, size: int = FONT, fill: str = TEXT,
          anchor: str | None = None, weight: str | None = None, dx: float | None = None,
          **extra: object) -> Markup:
    return _el("text", {"x": x if isinstance(x, str) else _num(x), "y": _num(y), "dx": dx,
                        "font-size": size, "fill": fill, "text-anchor": anchor,
                        "font-weight": weight, **extra}, content)


def _wrapped(x: str | float, y: float, label: str, *, weight: str | None = None,
             size: int = FONT) -> tuple[list[Markup], float]:
    """``label`` on as many lines as it needs; returns the elements and the height used."""
    lines = textwrap.wrap(label, WRAP) or [""]
    return ([_text(x, y + size + i * LINE, line, size=size, weight=weight)
             for i, line in enumerate(lines)], len(lines) * LINE)


def _svg(chart_id: str, title: str, desc: str, height: float, body: Sequence[Markup],
         defs: Sequence[Markup] = ()) -> Markup:
    return _el(
        "svg",
        {"xmlns": "http://www.w3.org/2000/svg", "class": "speakup-chart", "width": "100%",
         "height": _num(height), "role": "img",
         "aria-labelledby": f"{chart_id}-title {chart_id}-desc", "id": chart_id,
         "focusable": "false"},
        _el("title", {"id": f"{chart_id}-title"}, title),
        _el("desc", {"id": f"{chart_id}-desc"}, desc),
        *([_el("defs", {}, *defs)] if defs else []),
        *body,
    )


def _hidden_bar(y: float, words: str = "hidden") -> list[Markup]:
    return [
        _el("rect", {"x": "0", "y": _num(y), "width": "100%", "height": BAR_HEIGHT,
                     "fill": WHITE, "stroke": SECONDARY, "stroke-width": 1,
                     "stroke-dasharray": "4 3", "class": "speakup-chart__hidden"}),
        _text(8, y + BAR_HEIGHT / 2 + 5, words, fill=SECONDARY),
    ]


# --- favourable percentages: horizontal bars --------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One group's favourable percentage; ``hidden``: drawn as an empty "hidden" bar."""

    label: str
    percent: float | None
    hidden: bool = False
    note: str = ""  # after the label, e.g. "120 people"


@dataclass(frozen=True)
class Section:
    """Bars under an optional heading (the rows of a 2-D breakdown)."""

    heading: str | None
    bars: Sequence[Bar]


def bar_chart(*, chart_id: str, title: str, desc: str, sections: Sequence[Section]) -> Markup:
    """Horizontal bars from 0 to 100%, each under its label, with its value as text."""
    body: list[Markup] = []
    y = 0.0
    for section in sections:
        if section.heading:
            lines, used = _wrapped(0, y, section.heading, weight="bold", size=FONT + 1)
            body += lines
            y += used + 4
        for bar in section.bars:
            label = f"{bar.label} ({bar.note})" if bar.note else bar.label
            lines, used = _wrapped(0, y, label)
            body += lines
            y += used + 2
            body.append(_el("rect", {"x": "0", "y": _num(y), "width": "100%",
                                     "height": BAR_HEIGHT, "fill": TRACK}))
            if bar.hidden:
                body += _hidden_bar(y)
            elif bar.percent is None:
                body.append(_text(8, y + BAR_HEIGHT / 2 + 5, "no answers", fill=SECONDARY))
            else:
                body.append(_el("rect", {"x": "0", "y": _num(y), "width": _pc(bar.percent),
                                         "height": BAR_HEIGHT, "fill": BAR,
                                         "class": "speakup-chart__bar"}))
                inside = bar.percent >= 80
                body.append(_text(_pc(bar.percent), y + BAR_HEIGHT / 2 + 5,
                                  percent_text(bar.percent), dx=-6 if inside else 6,
                                  anchor="end" if inside else "start",
                                  fill=WHITE if inside else TEXT, weight="bold"))
            y += BAR_HEIGHT + ROW_GAP
        y += 6
    return _svg(chart_id, title, desc, max(y, 1), body)


# --- answer distributions: stacked bars -------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """One group's released counts per option (in option order); None when hidden."""

    label: str
    counts: Sequence[int] | None
    hidden: bool = False
    note: str = ""


def answer_colours(options: Sequence[str], favourable: Collection[str]) -> list[str]:
    """A colour per option: blues and greens for favourable answers, others from the rest."""
    if not favourable:
        palette = [*FAVOURABLE_COLOURS[:2], *OTHER_COLOURS]
        return [palette[i % len(palette)] for i in range(len(options))]
    good = iter(FAVOURABLE_COLOURS * len(options))
    other = iter(OTHER_COLOURS * len(options))
    return [next(good) if o in favourable else next(other) for o in options]


def _pattern(pattern_id: str, colour: str, index: int) -> Markup:
    path = PATTERNS[index % len(PATTERNS)]
    tile = [_el("rect", {"width": 8, "height": 8, "fill": colour})]
    if path:
        tile.append(_el("path", {"d": path, "stroke": WHITE, "stroke-width": 1.5,
                                 "stroke-opacity": "0.5", "fill": WHITE}))
    return _el("pattern", {"id": pattern_id, "width": 8, "height": 8,
                           "patternUnits": "userSpaceOnUse"}, *tile)


def stacked_chart(*, chart_id: str, title: str, desc: str,
                  options: Sequence[tuple[str, str]], favourable: Collection[str],
                  stacks: Sequence[Stack]) -> Markup:
    """Each group's answers as one bar split by answer, with a legend of patterns."""
    ids = [o for o, _ in options]
    colours = answer_colours(ids, favourable)
    defs = [_pattern(f"{chart_id}-p{i}", c, i) for i, c in enumerate(colours)]
    body: list[Markup] = []
    y = 0.0
    for i, (_, label) in enumerate(options):
        body.append(_el("rect", {"x": "0", "y": _num(y + 2), "width": 16, "height": 16,
                                 "fill": f"url(#{chart_id}-p{i})", "stroke": colours[i]}))
        body.append(_text(24, y + 15, label, size=SMALL + 1))
        y += LINE + 2
    y += 8
    for stack in stacks:
        label = f"{stack.label} ({stack.note})" if stack.note else stack.label
        lines, used = _wrapped(0, y, label)
        body += lines
        y += used + 2
        total = sum(stack.counts) if stack.counts is not None else 0
        if stack.hidden or stack.counts is None:
            body += _hidden_bar(y)
        elif total == 0:
            body.append(_el("rect", {"x": "0", "y": _num(y), "width": "100%",
                                     "height": BAR_HEIGHT, "fill": TRACK}))
            body.append(_text(8, y + BAR_HEIGHT / 2 + 5, "no answers", fill=SECONDARY))
        else:
            start = 0.0
            for i, count in enumerate(stack.counts):
                share = 100 * count / total
                if share <= 0:
                    continue
                body.append(_el("rect", {"x": _pc(start), "y": _num(y), "width": _pc(share),
                                         "height": BAR_HEIGHT,
                                         "fill": f"url(#{chart_id}-p{i})",
                                         "stroke": WHITE, "stroke-width": 1}))
                if share >= 9:
                    body.append(_text(_pc(start + share / 2), y + BAR_HEIGHT / 2 + 5,
                                      f"{share:.0f}%", anchor="middle", fill=WHITE,
                                      weight="bold", stroke=colours[i], **{
                                          "stroke-width": 3, "paint-order": "stroke"}))
                start += share
        y += BAR_HEIGHT + ROW_GAP
    return _svg(chart_id, title, desc, max(y, 1), body, defs)


# --- WRES: percentages with 95% intervals -----------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A percentage with its 95% interval; ``percent`` None with ``hidden``: not shown."""

    label: str
    percent: float | None
    interval: tuple[float, float] | None
    hidden: bool = False


def _axis_x(value: float) -> str:
    """0..100 onto 2%..98% of the width, so the end ticks and their labels stay inside."""
    return _pc(2 + 0.96 * value)


def interval_chart(*, chart_id: str, title: str, desc: str,
                   estimates: Sequence[Estimate]) -> Markup:
    """Dot-and-whisker: each estimate's dot and its 95% interval on a 0-100% axis."""
    body: list[Markup] = []
    y = 0.0
    mid = BAR_HEIGHT / 2
    for est in estimates:
        if est.percent is None or est.interval is None:
            words = "hidden to protect a small group" if est.hidden else "no answers"
            lines, used = _wrapped(0, y, f"{est.label}: {words}")
            body += lines
            y += used + 2
            body += _hidden_bar(y, "hidden") if est.hidden else []
        else:
            low, high = est.interval
            label = (f"{est.label}: {percent_text(est.percent)} "
                     f"(95% interval {percent_text(low)} to\N{NO-BREAK SPACE}{percent_text(high)})")
            lines, used = _wrapped(0, y, label)
            body += lines
            y += used + 2
            body.append(_el("line", {"x1": _axis_x(0), "x2": _axis_x(100), "y1": _num(y + mid),
                                     "y2": _num(y + mid), "stroke": TRACK, "stroke-width": 4}))
            for x in (low, high):
                body.append(_el("line", {"x1": _axis_x(x), "x2": _axis_x(x), "y1": _num(y + 4),
                                         "y2": _num(y + BAR_HEIGHT - 4), "stroke": TEXT,
                                         "stroke-width": 2}))
            body.append(_el("line", {"x1": _axis_x(low), "x2": _axis_x(high),
                                     "y1": _num(y + mid), "y2": _num(y + mid), "stroke": TEXT,
                                     "stroke-width": 2, "class": "speakup-chart__whisker"}))
            body.append(_el("circle", {"cx": _axis_x(est.percent), "cy": _num(y + mid), "r": 6,
                                       "fill": BAR, "stroke": WHITE, "stroke-width": 1.5,
                                       "class": "speakup-chart__dot"}))
        y += BAR_HEIGHT + ROW_GAP
    if any(e.percent is not None for e in estimates):
        body += _percent_axis(y)
        y += 24
    return _svg(chart_id, title, desc, y, body)


def _percent_axis(y: float) -> list[Markup]:
    out = [_el("line", {"x1": _axis_x(0), "x2": _axis_x(100), "y1": _num(y), "y2": _num(y),
                        "stroke": GRID})]
    for tick in (0, 25, 50, 75, 100):
        anchor = {0: "start", 100: "end"}.get(tick, "middle")
        out.append(_el("line", {"x1": _axis_x(tick), "x2": _axis_x(tick), "y1": _num(y),
                                "y2": _num(y + 5), "stroke": GRID}))
        out.append(_text(_axis_x(tick), y + 18, f"{tick}%", size=SMALL, fill=SECONDARY,
                         anchor=anchor, dx={0: -4, 100: 4}.get(tick)))
    return out


# --- trends: favourable percentage per wave ---------------------------------------------------


@dataclass(frozen=True)
class Point:
    wave: str
    percent: float | None
    hidden: bool = False


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[Point]


PANEL = 110  # plot height of one series, in px
LEFT = 14.0  # plot area, in percent of the width (y axis labels to its left)
RIGHT = 96.0


def trend_chart(*, chart_id: str, title: str, desc: str, waves: Sequence[str],
                series: Sequence[Series]) -> Markup:
    """One small line-and-dot panel per series, waves left to right, 0-100% up the side."""
    body: list[Markup] = []
    step = (RIGHT - LEFT) / max(len(waves), 1)
    x_of = {w: LEFT + (i + 0.5) * step for i, w in enumerate(waves)}
    room = max(6, 48 // max(len(waves), 1))
    y = 0.0
    for one in series:
        if len(series) > 1 or one.label:
            lines, used = _wrapped(0, y, one.label, weight="bold", size=FONT + 1)
            body += lines
            y += used + 8
        top = y + 10

        def y_of(value: float, top: float = top) -> float:
            return top + PANEL * (1 - value / 100)

        for tick in (0, 50, 100):
            body.append(_el("line", {"x1": _pc(LEFT), "x2": _pc(RIGHT), "y1": _num(y_of(tick)),
                                     "y2": _num(y_of(tick)), "stroke": GRID,
                                     "stroke-dasharray": None if tick == 0 else "2 4"}))
            body.append(_text(0, y_of(tick) + 4, f"{tick}%", size=SMALL, fill=SECONDARY))
        for a, b in zip(one.points, one.points[1:], strict=False):
            if a.percent is not None and b.percent is not None and a.wave in x_of \
                    and b.wave in x_of:
                body.append(_el("line", {"x1": _pc(x_of[a.wave]), "x2": _pc(x_of[b.wave]),
                                         "y1": _num(y_of(a.percent)),
                                         "y2": _num(y_of(b.percent)), "stroke": BAR,
                                         "stroke-width": 2.5}))
        for p in one.points:
            if p.percent is None or p.wave not in x_of:
                continue
            body.append(_el("circle", {"cx": _pc(x_of[p.wave]), "cy": _num(y_of(p.percent)),
                                       "r": 5, "fill": BAR, "stroke": WHITE,
                                       "stroke-width": 1.5, "class": "speakup-chart__dot"}))
            above = p.percent < 80
            body.append(_text(_pc(x_of[p.wave]), y_of(p.percent) + (-10 if above else 20),
                              percent_text(p.percent), size=SMALL + 1, anchor="middle",
                              weight="bold"))
        for p in one.points:
            if p.percent is None and p.wave in x_of:
                body.append(_text(_pc(x_of[p.wave]), y_of(50) - 6,
                                  "hidden" if p.hidden else "no answers", size=SMALL + 1,
                                  anchor="middle", fill=SECONDARY))
        y = top + PANEL + 6
        for w in waves:
            short = w if len(w) <= room else w[: room - 1] + "…"
            body.append(_text(_pc(x_of[w]), y + 14, short, size=SMALL, anchor="middle",
                              fill=SECONDARY))
        y += 14 + 26
    return _svg(chart_id, title, desc, max(y - 8, 1), body)


# --- from released tables to charts -----------------------------------------------------------


@dataclass(frozen=True)
class QuestionCharts:
    """The charts for one question's `Release` (each None when it does not apply)."""

    favourable: Markup | None
    distribution: Markup | None
    trend: Markup | None


def _people(cell: Cell) -> str:
    if cell.n is None:
        return ""
    # A no-break space keeps the number with its noun when a label wraps.
    return f"{cell.n:,}\N{NO-BREAK SPACE}{'person' if cell.n == 1 else 'people'}"


def _bar(cell: Cell, label: str) -> Bar:
    return Bar(label, cell.favourable_pct, is_hidden(cell), _people(cell))


def _stack(cell: Cell, label: str, options: Sequence[str]) -> Stack:
    counts = None if cell.counts is None else [cell.counts.get(o, 0) for o in options]
    return Stack(label, counts, is_hidden(cell), _people(cell))


def margin_cells(release: Release, dim: str, labels: Labels) -> list[Cell]:
    """The cells ``{dim: value}`` of ``release`` in display order."""
    cells = {c.group[dim]: c for c in release.cells if list(c.group) == [dim]}
    return [cells[v] for v in labels.order(dim, cells)]


def interior_cell(release: Release, row: tuple[str, str], column: tuple[str, str]) -> Cell | None:
    wanted = {row[0]: row[1], column[0]: column[1]}
    return next((c for c in release.cells if c.group == wanted), None)


def _hidden_note(release: Release, cells: Iterable[Cell]) -> str:
    count = sum(1 for c in cells if is_hidden(c))
    if not count:
        return ""
    return (f" {count} group{'s are' if count > 1 else ' is'} hidden to protect people in "
            f"small groups (fewer than {release.k} people, or where a small group could be "
            "worked out).")


def question_charts(release: Release, question: Question, labels: Labels,
                    chart_id: str) -> QuestionCharts:
    """Charts for one question: favourable bars (or a trend), and the answer distribution.

    With no breakdown: everyone. One breakdown: everyone, then each group. Two: everyone and
    the second dimension's groups, then a section per group of the first. Broken down by wave:
    a trend (per group of the other dimension, if any), and the distribution per wave.
    """
    where = ", ".join(labels.value(d, v) for d, v in release.where.items() if d != WAVE)
    scope = f" in {where}" if where else ""
    wave = release.where.get(WAVE)
    when = f", wave {wave}" if wave else ""
    total = release.cell({})
    by = list(release.by)
    favourable = bool(question.favourable)
    fav_words = ", ".join(labels.answer(question, o) for o in question.favourable)

    distribution_dim = WAVE if WAVE in by else (by[0] if by else None)
    rows = [total] + (margin_cells(release, distribution_dim, labels) if distribution_dim
                      else [])
    options = list(question.option_ids)
    stacks = [_stack(c, labels.cell(release, c), options) for c in rows]
    per = f" for each {labels.dimension(distribution_dim).lower()}" if distribution_dim else ""
    distribution = stacked_chart(
        chart_id=f"{chart_id}-answers", title=f"All answers{per}{scope}{when}",
        desc=("Stacked bars: the share of each answer, with a legend of patterns above."
              + _hidden_note(release, rows) + " The same figures are in the table below."),
        options=question.options, favourable=question.favourable, stacks=stacks)
    if not favourable:
        return QuestionCharts(None, distribution, None)

    if WAVE in by:
        other = next((d for d in by if d != WAVE), None)
        waves = labels.order(WAVE, {c.group[WAVE] for c in release.cells if WAVE in c.group})

        def points(extra: dict[str, str]) -> list[Point]:
            out = []
            for w in waves:
                cell = next((c for c in release.cells if c.group == {**extra, WAVE: w}), None)
                if cell is not None:
                    bar = _bar(cell, w)
                    out.append(Point(w, bar.percent, bar.hidden))
            return out

        series = [Series("Everyone" if other else "", points({}))]
        if other:
            series += [Series(labels.value(other, c.group[other]), points({other: c.group[other]}))
                       for c in margin_cells(release, other, labels)]
        trend = trend_chart(
            chart_id=f"{chart_id}-trend", title=f"Favourable answers ({fav_words}) by wave{scope}",
            desc=("Line and dot chart of the favourable percentage in each wave"
                  + (f", one panel per {labels.dimension(other).lower()}" if other else "")
                  + ". Hidden waves are marked 'hidden'. The same figures are in the table below."),
            waves=waves, series=series)
        return QuestionCharts(None, distribution, trend)

    sections: list[Section]
    if len(by) == 2:
        first, second = by
        seconds = margin_cells(release, second, labels)
        sections = [Section("Everyone", [_bar(total, "All")] + [
            _bar(c, labels.value(second, c.group[second])) for c in seconds])]
        for row in margin_cells(release, first, labels):
            value = row.group[first]
            bars = [_bar(row, "All")]
            for col in seconds:
                cell = interior_cell(release, (first, value), (second, col.group[second]))
                if cell is not None:
                    bars.append(_bar(cell, labels.value(second, col.group[second])))
            sections.append(Section(labels.value(first, value), bars))
        per = (f" by {labels.dimension(first).lower()} and "
               f"{labels.dimension(second).lower()}")
    else:
        sections = [Section(None, [_bar(c, labels.cell(release, c))
                                   for c in [total, *(margin_cells(release, by[0], labels)
                                                      if by else [])]])]
        per = f" by {labels.dimension(by[0]).lower()}" if by else ""
    shown = [c for s in sections for c in s.bars]
    hidden = sum(1 for b in shown if b.hidden)
    note = (f" {hidden} group{'s are' if hidden > 1 else ' is'} hidden to protect people in "
            "small groups." if hidden else "")
    chart = bar_chart(
        chart_id=f"{chart_id}-favourable",
        title=f"Favourable answers ({fav_words}){per}{scope}{when}",
        desc=("Horizontal bars: the percentage giving a favourable answer, from 0 to 100%."
              + note + " The same figures are in the table below."),
        sections=sections)
    return QuestionCharts(chart, distribution, None)


def wres_chart(indicator: WresIndicator, chart_id: str) -> Markup:
    """White and Global majority percentages for one WRES indicator, with 95% intervals."""

    def estimate(label: str, side: WresSide) -> Estimate:
        return Estimate(label, side.percent, side.interval,
                        hidden=side.percent is None and side.total != 0)

    return interval_chart(
        chart_id=chart_id, title=f"Indicator {indicator.number}: White and Global majority staff",
        desc=("Dot and whisker chart: each group's percentage with its 95% interval (Wilson), "
              "on a scale from 0 to 100%. The same figures are in the table below."),
        estimates=[estimate("White", indicator.white),
                   estimate("Global majority", indicator.global_majority)])


def ratio_text(value: float) -> str:
    if math.isnan(value):
        return "not defined"
    if math.isinf(value):
        return "no upper limit"
    return f"{value:.2f}"
