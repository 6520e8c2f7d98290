"""Server-drawn SVG charts: well-formed, escaped, CSP-safe, and hidden groups carry no number."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from analysis.disclosure import Cell, Release
from equality import charts
from surveys.definition import parse_definition, template_text

SVG = "{http://www.w3.org/2000/svg}"
NASTY = '<script>alert("x")</script> & "quotes"'


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 (our own output, parsed to check it)


def _texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


def _bars(*bars: charts.Bar) -> ET.Element:
    return _parse(charts.bar_chart(chart_id="c", title="Favourable", desc="Bars",
                                   sections=[charts.Section(None, bars)]))


def test_bar_chart_is_an_accessible_svg_image() -> None:
    svg = _bars(charts.Bar("Band 5", 40.0, note="20 people"))
    assert svg.tag == f"{SVG}svg"
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c-title c-desc"
    assert svg.find(f"{SVG}title").text == "Favourable"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}title").get("id") == "c-title"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").get("id") == "c-desc"  # type: ignore[union-attr]
    assert _texts(svg) == ["Band 5 (20 people)", "40.0%"]
    assert not [e for e in svg.iter() if "style" in e.attrib]


def test_bar_lengths_are_proportional() -> None:
    svg = _bars(charts.Bar("A", 25.0), charts.Bar("B", 50.0), charts.Bar("C", 100.0),
                charts.Bar("D", 0.0))
    widths = [r.get("width") for r in svg.iter(f"{SVG}rect")
              if r.get("class") == "speakup-chart__bar"]
    assert widths == ["25%", "50%", "100%", "0%"]


def test_hidden_group_is_an_empty_bar_with_no_number() -> None:
    svg = _bars(charts.Bar("Band 9", None, hidden=True))
    assert _texts(svg) == ["Band 9", "hidden"]
    assert not [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "speakup-chart__bar"]
    [empty] = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "speakup-chart__hidden"]
    assert empty.get("stroke-dasharray")


def test_hidden_cells_from_a_release_show_no_figure() -> None:
    definition = parse_definition(template_text("equality-pulse"))
    question = definition.question("roles_fair")
    cells = [
        Cell({}, 40, False, None, {"agree": 30, "disagree": 10}, 75.0),
        Cell({"band": "5"}, 37, False, None, {"agree": 27, "disagree": 10}, 73.0),
        # The hidden cells carry no figures at all: nothing to leak.
        Cell({"band": "9"}, None, True, "below k", None, None, 0, 10),
        Cell({"band": "6"}, 12, False, "complementary", None, None),
        Cell({"band": "7"}, None, True, "complementary", None, None, 40, 49),
    ]
    release = Release(11, ("band",), {"wave": "W1"}, cells)
    drawn = charts.question_charts(release, question, charts.Labels(definition), "q1")
    for markup in (drawn.favourable, drawn.distribution):
        assert markup is not None
        texts = _texts(_parse(markup))
        assert texts[texts.index("Band 9") + 1] == "hidden"
        assert texts[texts.index("Band 6 (12\N{NO-BREAK SPACE}people)") + 1] == "hidden"
    assert charts.hidden_text(cells[2], 11).startswith("Fewer than 11 people: too few to show")
    assert charts.respondents_text(cells[2], 11) == "Fewer than 11"
    assert charts.hidden_text(cells[3], 11).startswith("Answers hidden")
    assert charts.respondents_text(cells[4], 11) == "Between 40 and 49"
    assert charts.hidden_text(cells[4], 11).startswith("Shown as a range")
    assert charts.hidden_text(cells[1], 11) == ""


@pytest.mark.parametrize("draw", [
    lambda label: charts.bar_chart(chart_id="c", title=label, desc=label,
                                   sections=[charts.Section(label, [charts.Bar(label, 10.0)])]),
    lambda label: charts.stacked_chart(chart_id="c", title=label, desc=label,
                                       options=[("a", label), ("b", "B")], favourable=["a"],
                                       stacks=[charts.Stack(label, [1, 3])]),
    lambda label: charts.interval_chart(chart_id="c", title=label, desc=label,
                                        estimates=[charts.Estimate(label, 40, (30, 50))]),
    lambda label: charts.trend_chart(chart_id="c", title=label, desc=label, waves=[label, "W2"],
                                     series=[charts.Series(label, [charts.Point(label, 40.0),
                                                                   charts.Point("W2", None, True)])]),
])
def test_every_text_is_escaped(draw) -> None:
    markup = str(draw(NASTY))
    assert "<script" not in markup
    svg = _parse(markup)
    assert not [e for e in svg.iter() if e.tag.endswith("script")]
    assert NASTY in [svg.find(f"{SVG}title").text, *_texts(svg)]  # type: ignore[union-attr]


def test_stacked_bars_share_the_width_with_a_pattern_per_answer() -> None:
    svg = _parse(charts.stacked_chart(
        chart_id="s", title="Answers", desc="Stacked", options=[("yes", "Yes"), ("no", "No")],
        favourable=["yes"], stacks=[charts.Stack("Everyone", [30, 10], note="40 people"),
                                    charts.Stack("Band 9", None, hidden=True)]))
    segments = [r for r in svg.iter(f"{SVG}rect") if r.get("height") == str(charts.BAR_HEIGHT)
                and (r.get("fill") or "").startswith("url(")]
    assert [(s.get("x"), s.get("width")) for s in segments] == [("0%", "75%"), ("75%", "25%")]
    patterns = {p.get("id") for p in svg.iter(f"{SVG}pattern")}
    assert patterns == {"s-p0", "s-p1"}
    assert "75%" in _texts(svg) and "Yes" in _texts(svg)
    texts = _texts(svg)
    assert texts[texts.index("Band 9") + 1] == "hidden"


def test_answer_colours_contrast_with_white() -> None:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for colour in (*charts.FAVOURABLE_COLOURS, *charts.OTHER_COLOURS, charts.BAR,
                   charts.SECONDARY):
        assert 1.05 / (luminance(colour) + 0.05) >= 3, colour
    assert len(set(charts.answer_colours(list("abcde"), favourable=["d", "e"]))) == 5


def test_interval_chart_draws_dot_and_whiskers_and_says_when_hidden() -> None:
    svg = _parse(charts.interval_chart(
        chart_id="w", title="WRES", desc="Dots",
        estimates=[charts.Estimate("White", 40.0, (30.0, 50.0)),
                   charts.Estimate("Global majority", None, None, hidden=True)]))
    [dot] = [c for c in svg.iter(f"{SVG}circle")]
    assert dot.get("cx") == "40.4%"  # 2% + 0.96 * 40
    [whisker] = [line for line in svg.iter(f"{SVG}line")
                 if line.get("class") == "speakup-chart__whisker"]
    assert (whisker.get("x1"), whisker.get("x2")) == ("30.8%", "50%")
    texts = _texts(svg)
    hidden = texts[texts.index("Global majority: hidden to protect a"):]
    assert hidden[:3] == ["Global majority: hidden to protect a", "small group", "hidden"]
    assert not re.search(r"\d", " ".join(hidden[:3]))


def test_trend_marks_a_hidden_wave_and_joins_only_shown_ones() -> None:
    svg = _parse(charts.trend_chart(
        chart_id="t", title="Trend", desc="Lines", waves=["W1", "W2", "W3"],
        series=[charts.Series("", [charts.Point("W1", 40.0), charts.Point("W2", None, True),
                                   charts.Point("W3", 60.0)])]))
    assert len(list(svg.iter(f"{SVG}circle"))) == 2
    texts = _texts(svg)
    assert "hidden" in texts and "40.0%" in texts and "60.0%" in texts
    joins = [line for line in svg.iter(f"{SVG}line") if line.get("stroke") == charts.BAR]
    assert joins == []  # W1 and W3 are not neighbours: no line across the hidden wave


def test_labels_wrap_instead_of_overflowing_a_phone() -> None:
    long = "Mixed or Multiple ethnic groups: White and Black Caribbean"
    texts = _texts(_bars(charts.Bar(long, 50.0, note="120\N{NO-BREAK SPACE}people")))
    assert texts == ["Mixed or Multiple ethnic groups:", "White and Black Caribbean",
                     "(120\N{NO-BREAK SPACE}people)", "50.0%"]
    assert max(len(t) for t in texts) <= charts.WRAP
