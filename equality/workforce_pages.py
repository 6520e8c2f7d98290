"""What the workforce dashboard and the board pack show: figures (a chart with its table beside
it) built from the indicators JSON of `equality.payload`, never from the records.

The pages therefore show exactly what ``speakup workforce indicators`` prints: trust-level
figures of the national returns and the board's composition exactly, every breakdown as
disclosure control released it (a hidden figure says why, never what). The "what changed" list
compares two periods' trust-level figures only, in words generated from the numbers: no text
written by staff ever reaches it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from analysis.workforce.vocabulary import (
    BAND_LABELS,
    BROAD_GROUP_LABELS,
    ETHNICITY_LABELS,
    WRES_GROUP_LABELS,
)
from equality import charts
from equality.charts import Bar, Estimate, Point, Section, Series, Stack
from equality.workforce_charts import Ratio, Target, ratio_chart, target_chart

Json = dict[str, Any]

TITLES = {
    "wres2": "WRES 2: White applicants' likelihood of appointment from shortlisting, relative "
             "to BME applicants",
    "wres3": "WRES 3: BME staff's likelihood of entering the formal disciplinary process, "
             "relative to White staff",
    "wres4": "WRES 4: White staff's likelihood of accessing non-mandatory training and CPD, "
             "relative to BME staff",
    "wdes2": "WDES 2: non-disabled applicants' likelihood of appointment from shortlisting, "
             "relative to Disabled applicants",
    "wdes3": "WDES 3: Disabled staff's likelihood of entering the formal capability process, "
             "relative to non-disabled staff",
}
BRIEF = {
    "wres2": "WRES 2: appointed from shortlisting, White relative to BME",
    "wres3": "WRES 3: entering the formal disciplinary process, BME relative to White",
    "wres4": "WRES 4: accessing non-mandatory training, White relative to BME",
    "wdes2": "WDES 2: appointed from shortlisting, non-disabled relative to Disabled",
    "wdes3": "WDES 3: entering the formal capability process, Disabled relative to "
             "non-disabled",
}
SHORT = {"wres2": "WRES 2", "wres3": "WRES 3", "wres4": "WRES 4", "wdes2": "WDES 2",
         "wdes3": "WDES 3", "wres9": "WRES 9", "wdes10": "WDES 10"}
GROUP_LABELS = {**WRES_GROUP_LABELS, "all": "Everyone", "disabled": "Disabled",
                "non-disabled": "Non-disabled", "female": "Female", "male": "Male",
                "other": "Other", **BROAD_GROUP_LABELS, **ETHNICITY_LABELS,
                "not-stated": "Not stated"}
CLUSTER_LABELS = {"afc-1-4": "AfC bands 1 to 4", "afc-5-7": "AfC bands 5 to 7",
                  "afc-8a-8b": "AfC bands 8a and 8b", "afc-8c-vsm": "AfC bands 8c to VSM",
                  "medical-consultant": "Medical: consultant",
                  "medical-career-grade": "Medical: non-consultant career grade",
                  "medical-trainee": "Medical: trainee grade", "medical-other": "Medical: other"}
ROUTE_LABELS = {"advertised-external": "Advertised externally",
                "advertised-internal": "Advertised internally", "acting-up": "Acting up",
                "secondment": "Secondment", "direct-appointment": "Direct appointment",
                "redeployment": "Redeployment"}
DIMENSION_LABELS = {"wres_group": "White and BME", "ethnic_group": "Broad ethnic group",
                    "ethnicity": "Detailed ethnic group (ONS 2021)", "disability": "Disability",
                    "sex": "Sex"}
PAY_LABELS = {"sex": "Sex (gender pay gap)", "ethnicity": "Ethnicity (White and BME)",
              "disability": "Disability"}
SURVEY_TITLES = {
    "wres5": "WRES 5: experienced harassment, bullying or abuse from patients, relatives or "
             "the public",
    "wres6": "WRES 6: experienced harassment, bullying or abuse from staff",
    "wres7": "WRES 7: believe the trust provides equal opportunities for career progression",
    "wres8": "WRES 8: experienced discrimination from a manager, team leader or colleague",
}


def band_label(band: str | None) -> str:
    return "All bands" if band is None else BAND_LABELS.get(band, band)


def group_label(group: str | None) -> str:
    return "Everyone" if group is None else GROUP_LABELS.get(group, group)


def hidden_words(reason: str | None, k: int) -> str:
    return {
        "below k": f"Hidden: fewer than {k} people",
        "differencing": "Hidden so that a smaller group cannot be worked out",
        "complementary": "Hidden so that another hidden group cannot be worked out",
        "same answer": "Hidden: everyone in this group had the same outcome",
        "no pay": "No pay figures for one of the groups",
    }.get(reason or "", "Hidden to protect a small group")


def pct(value: float | None) -> str:
    return "-" if value is None else charts.percent_text(value)


def ratio(value: float | None) -> str:
    return "not defined" if value is None else charts.ratio_text(value)


def interval(ci: Sequence[float] | None, unit: str = "") -> str:
    if not ci:
        return "-"
    if unit == "%":
        return f"{pct(ci[0])} to {pct(ci[1])}"
    if unit == "pp":
        return f"{ci[0]:+.1f} to {ci[1]:+.1f} points"
    return f"{ratio(ci[0])} to {ratio(ci[1])}"


def count(n: object) -> str:
    return "-" if n is None else f"{n:,}" if isinstance(n, int) else str(n)


@dataclass(frozen=True)
class Table:
    caption: str
    head: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Figure:
    """A chart (or none) with the table of the same figures beside it."""

    id: str
    heading: str
    intro: str
    chart: Markup | None
    tables: Sequence[Table]
    notes: Sequence[str] = ()


@dataclass
class Page:
    """Every figure of a period, in the order the dashboard and the board pack show them."""

    period: str
    organisation: str
    version: int
    status: str
    note: str | None
    k: int
    figures: list[Figure] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


def _trust(payload: Json, indicator: str) -> Json | None:
    return next((e for e in payload["indicators"] if e["id"] == indicator and e["by"] is None),
                None)


def _side(side: Json | None) -> str:
    if not side:
        return "-"
    return (f"{group_label(side['group'])}: {count(side['count'])} of {count(side['total'])}"
            if "total" in side else count(side))


def headline(payload: Json) -> Figure:
    entries = [e for i in TITLES if (e := _trust(payload, i)) is not None]
    definitions = payload["definitions"]
    notes = [f"{SHORT[i]}: {d['note']}." for i, d in definitions.items() if d.get("note")]
    chart = ratio_chart(
        chart_id="wf-headline", title="Relative likelihoods at trust level",
        desc=("Dot and whisker chart on a log scale: each indicator's relative likelihood with "
              "its 95% interval. A shaded band marks 0.80 to 1.25, the range NHS England treats "
              "as non-adverse; 1 means no difference. The same figures are in the table."),
        ratios=[Ratio(SHORT[e["id"]], e["value"], tuple(e["ci"]) if e["ci"] else None)
                for e in entries])
    rows = [[BRIEF[e["id"]], ratio(e["value"]), interval(e["ci"]), _side(e["numerator"]),
             _side(e["denominator"]),
             ", ".join(definitions[e["id"]].get("snapshots", [])) or payload["period"]]
            for e in entries]
    return Figure(
        "headline", "Headline indicators (trust level)",
        "The figures of the national WRES and WDES returns, shown exactly. Above 1, the first "
        "group named is more likely to have the outcome. The disciplinary and capability "
        "indicators pool two years when the previous year's snapshot is there.",
        chart, [Table("Relative likelihoods, trust level",
                      ["Indicator", "Relative likelihood", "95% interval", "Numerator",
                       "Denominator", "Snapshots pooled"], rows)], notes)


def _shares(payload: Json, indicator: str, dimension: str, labels: Mapping[str, str],
            what: str, group: str) -> Figure:
    rows_in = [r for r in payload["representation"] if r["indicator"] == indicator
               and (r["by"] is None or set(r["by"]) == {dimension})]
    k = payload["k"]
    estimates = []
    rows = []
    for r in rows_in:
        label = "All staff" if r["by"] is None else labels.get(r["by"][dimension],
                                                               r["by"][dimension])
        estimates.append(Estimate(label, r["share"], tuple(r["ci"]) if r["ci"] else None,
                                  hidden=r["suppressed"]))
        if r["suppressed"]:
            rows.append([label, hidden_words(r["reason"], k), "-", "-", "-"])
        else:
            rows.append([label, count(r["total"]), count(r["count"]), pct(r["share"]),
                         interval(r["ci"], "%")])
    chart = charts.interval_chart(
        chart_id=f"wf-{indicator}", title=f"{what} by {dimension}",
        desc=("Dot and whisker chart: each group's percentage with its 95% interval (Wilson), "
              "on a scale from 0 to 100%. The same figures are in the table."),
        estimates=estimates)
    number = "1"
    return Figure(
        indicator, f"{SHORT.get(indicator, indicator.upper()[:4] + ' ' + number)}: {what}",
        f"Share of each {dimension}'s headcount who are {group} (not stated counted in the "
        "headcount), against the whole workforce.", chart,
        [Table(f"{what} by {dimension}", [dimension.title(), "Headcount", what, "Share",
                                          "95% interval"], rows)])


def wres1(payload: Json) -> Figure:
    figure = _shares(payload, "wres1", "band", BAND_LABELS, "BME staff", "BME")
    return Figure("wres1", "WRES 1: BME staff in each band", figure.intro, figure.chart,
                  figure.tables)


def wdes1(payload: Json) -> Figure:
    figure = _shares(payload, "wdes1", "cluster", CLUSTER_LABELS, "Disabled staff", "Disabled")
    return Figure("wdes1", "WDES 1: Disabled staff in each cluster of bands", figure.intro,
                  figure.chart, figure.tables)


def by_band(payload: Json, indicator: str) -> Figure:
    k = payload["k"]
    entries = [e for e in payload["indicators"] if e["id"] == indicator]
    ratios = []
    rows = []
    for e in entries:
        label = band_label((e["by"] or {}).get("band"))
        ratios.append(Ratio(label, e["value"], tuple(e["ci"]) if e["ci"] else None,
                            hidden=e["suppressed"]))
        if e["suppressed"]:
            rows.append([label, hidden_words(e["reason"], k), "-", "-", "-"])
        else:
            rows.append([label, ratio(e["value"]), interval(e["ci"]), _side(e["numerator"]),
                         _side(e["denominator"])])
    chart = ratio_chart(
        chart_id=f"wf-{indicator}-bands", title=f"{SHORT[indicator]} by band",
        desc=("Dot and whisker chart on a log scale, one row per band, with the 0.80 to 1.25 "
              "reference band shaded. The same figures are in the table."), ratios=ratios)
    return Figure(f"{indicator}-bands", f"{SHORT[indicator]} by band",
                  TITLES[indicator] + ", for the trust and in each band.", chart,
                  [Table(f"{SHORT[indicator]} by band",
                         ["Band", "Relative likelihood", "95% interval", "Numerator",
                          "Denominator"], rows)])


def model_employer(payload: Json) -> Figure | None:
    rows_in = payload["model_employer"]
    if not rows_in:
        return None
    k = payload["k"]
    year = rows_in[0]["year"]
    targets = [Target(band_label(r["band"]), r["share"], r["target"], hidden=r["suppressed"])
               for r in rows_in]
    rows = []
    for r in rows_in:
        if r["suppressed"]:
            rows.append([band_label(r["band"]), pct(r["target"]), hidden_words(r["reason"], k),
                         "-", "-", "-", "-"])
        else:
            gap = r["gap_people"]
            rows.append([band_label(r["band"]), pct(r["target"]), count(r["headcount"]),
                         count(r["bme"]), pct(r["share"]), count(r["target_people"]),
                         "met" if gap <= 0 else f"{gap:,} more"])
    chart = target_chart(
        chart_id="wf-model-employer", title=f"BME share of each band against the {year} target",
        desc=("Bars: the BME share of each band's headcount; the dark tick on each bar is the "
              "trust's Model Employer target for the year. The same figures, with the gap in "
              "people, are in the table."), targets=targets)
    return Figure(
        "model-employer", "Representation against the Model Employer trajectory",
        "The trust's own target share of BME staff in each band for this year, and how many "
        "more BME staff each band would need at its current size to meet it.", chart,
        [Table(f"Model Employer targets for {year}",
               ["Band", "Target", "Headcount", "BME staff", "Share", "BME staff needed",
                "Gap in people"], rows)])


def board(payload: Json) -> Figure:
    b = payload["board"]
    entries = [e for e in payload["indicators"] if e["id"] in ("wres9", "wdes10")]
    bars = []
    rows = []
    for e in entries:
        membership = (e["by"] or {}).get("membership", "voting")
        label = f"{SHORT[e['id']]}, {membership} members"
        num, den = e["numerator"], e["denominator"]
        board_share = 100 * num["count"] / num["total"] if num["total"] else None
        work_share = 100 * den["count"] / den["total"] if den["total"] else None
        if membership == "voting":
            group = "BME" if e["id"] == "wres9" else "Disabled"
            bars.append(Section(f"{group} share", [Bar("Board (voting members)", board_share),
                                                   Bar("Whole workforce", work_share)]))
        rows.append([label, f"{count(num['count'])} of {count(num['total'])} ({pct(board_share)})",
                     f"{count(den['count'])} of {count(den['total'])} ({pct(work_share)})",
                     "-" if e["value"] is None else f"{e['value']:+.1f} points",
                     interval(e["ci"], "pp")])
    chart = charts.bar_chart(
        chart_id="wf-board", title="The board and the workforce",
        desc=("Horizontal bars from 0 to 100%: the BME and Disabled shares of the board's voting "
              "members and of the whole workforce. The same figures are in the tables."),
        sections=bars)
    composition = [["Members", count(b["members"])], ["Voting", count(b["voting"])],
                   ["Executive", count(b["executive"])],
                   ["Non-executive", count(b["non_executive"])],
                   *([f"Ethnic group: {group_label(g)}", count(n)]
                     for g, n in b["by_ethnic_group"].items()),
                   *([f"Disability: {group_label(g)}", count(n)]
                     for g, n in b["by_disability"].items())]
    return Figure(
        "board", "WRES 9 and WDES 10: the board",
        "Board members hold public office: their composition is shown exactly. Source: "
        f"{b['source']}.", chart,
        [Table("Board composition", ["", "Members"], composition),
         Table("Board share minus workforce share",
               ["Indicator", "Board", "Workforce", "Difference", "95% interval"], rows)])


def funnel(payload: Json) -> list[Figure]:
    k = payload["k"]
    rows_in = payload["funnel"]
    if not rows_in:
        return []
    trust = [r for r in rows_in if r["band"] is None and r["dimension"] == "wres_group"]
    sections = [
        Section("Shortlisted from applying", [
            Bar(group_label(r["group"]), r["shortlisting_rate"], hidden=r["suppressed"])
            for r in trust]),
        Section("Appointed from shortlisting", [
            Bar(group_label(r["group"]), r["appointment_rate"], hidden=r["suppressed"])
            for r in trust]),
    ]
    chart = charts.bar_chart(
        chart_id="wf-funnel", title="Recruitment to advertised posts: rates at each stage",
        desc=("Horizontal bars from 0 to 100%: the share of applicants shortlisted and the "
              "share of shortlisted applicants appointed, for White and BME applicants. The same "
              "figures, for every ethnic group, disability and sex, are in the tables."),
        sections=sections)
    head = ["Group", "Applied", "Shortlisted", "Interviewed", "Appointed", "Shortlisted %",
            "Appointed from shortlist %"]

    def row(r: Json, label: str) -> list[str]:
        if r["suppressed"]:
            return [label, hidden_words(r["reason"], k), "-", "-", "-", "-", "-"]
        return [label, count(r["applied"]), count(r["shortlisted"]), count(r["interviewed"]),
                count(r["appointed"]), pct(r["shortlisting_rate"]), pct(r["appointment_rate"])]

    tables = []
    for dimension, label in DIMENSION_LABELS.items():
        rows = [row(r, group_label(r["group"])) for r in rows_in
                if r["band"] is None and r["dimension"] == dimension
                and (r["group"] != "all" or dimension == "wres_group")]
        if rows:
            tables.append(Table(f"Funnel by {label.lower()}, all bands", head, rows))
    band_rows = [row(r, f"{band_label(r['band'])}, {group_label(r['group'])}") for r in rows_in
                 if r["band"] is not None and r["dimension"] == "wres_group"]
    first = Figure(
        "funnel", "Recruitment funnel",
        "Applications to advertised posts at each stage (applied, shortlisted, interviewed, "
        "appointed), by ethnic group, disability and sex. Detailed ethnic groups are shown "
        "where disclosure control allows.", chart, tables)
    second = Figure("funnel-bands", "Recruitment funnel by band and ethnic group",
                    "The same stages in each band, for White and BME applicants.", None,
                    [Table("Funnel by band and ethnic group", ["Band and group", *head[1:]],
                           band_rows)])
    return [first, second]


def routes(payload: Json) -> list[Figure]:
    k = payload["k"]
    rows_in = payload["routes"]
    if not rows_in:
        return []
    cells: dict[tuple[str | None, str | None], list[Json]] = {}
    for r in rows_in:
        cells.setdefault((r["band"], r["ethnic_group"]), []).append(r)

    def unadvertised(rs: list[Json]) -> tuple[float | None, int | None, int | None, bool, str | None]:
        if rs[0]["suppressed"]:
            return None, None, None, True, rs[0]["reason"]
        n = sum(r["appointments"] for r in rs if not r["advertised"])
        total = rs[0]["total"]
        return (100 * n / total if total else None), n, total, False, None

    trust = cells.get((None, None), [])
    route_rows = [[ROUTE_LABELS[r["route"]], "yes" if r["advertised"] else "no",
                   count(r["appointments"]), pct(r["share"])] for r in trust]
    bars = []
    band_rows = []
    for (band, group), rs in cells.items():
        if group is not None or band is None:
            continue
        share, n, total, hidden, reason = unadvertised(rs)
        bars.append(Bar(band_label(band), share, hidden=hidden))
    for (band, group), rs in cells.items():
        if band is None and group is None:
            continue
        share, n, total, hidden, reason = unadvertised(rs)
        label = f"{band_label(band)}, {group_label(group)}"
        band_rows.append([label, hidden_words(reason, k), "-", "-"] if hidden
                         else [label, count(total), count(n), pct(share)])
    chart = charts.bar_chart(
        chart_id="wf-routes", title="Appointments not advertised, by band",
        desc=("Horizontal bars from 0 to 100%: the share of each band's appointments made "
              "through a route other than an advertised post (acting up, secondment, direct "
              "appointment, redeployment). The same figures are in the tables."),
        sections=[Section(None, bars)])
    intro = ("How appointments were made. The review behind this platform asks that every role "
             "be advertised and fairly assessed; these are the appointments the board can "
             "question.")
    first = Figure("routes", "Roles not advertised", intro, chart, [
        Table("Appointments by route, whole trust", ["Route", "Advertised", "Appointments",
                                                     "Share"], route_rows),
        Table("Appointments not advertised, by band and ethnic group",
              ["Band and group", "Appointments", "Not advertised", "Share not advertised"],
              band_rows)])
    listed = [[u["vacancy_id"], band_label(u["band"]), u["directorate"] or "-",
               ROUTE_LABELS.get(u["route"], u["route"]), u["quarter"] or "-"]
              for u in payload["unadvertised"]]
    second = Figure(
        "unadvertised", "Unadvertised appointments this period",
        "Each appointment made without advertising the post: the vacancy, never the person "
        "appointed.", None,
        [Table(f"Unadvertised appointments ({len(listed):,})",
               ["Vacancy", "Band", "Directorate", "Route", "Quarter"], listed)])
    return [first, second]


def pay_gaps(payload: Json) -> Figure | None:
    gaps = payload["pay_gaps"]
    if not gaps:
        return None
    k = payload["k"]
    rows = []
    stacks = []
    quartile_tables = []
    bonus_supplied = any(g["bonus"] is not None for g in gaps)
    for g in gaps:
        name = PAY_LABELS[g["characteristic"]]
        ref, comp = g["reference"], g["comparison"]
        if g["suppressed"]:
            rows.append([name, hidden_words(g["reason"], k), "-", "-",
                         *(["-", "-", "-"] if bonus_supplied else [])])
            continue
        line = [name, f"{count(g['n'][ref])} {group_label(ref)}, {count(g['n'][comp])} "
                f"{group_label(comp)}", pct(g["mean_hourly_gap"]), pct(g["median_hourly_gap"])]
        if bonus_supplied:
            b = g["bonus"]
            if b is None or b["suppressed"]:
                line += [hidden_words(b["reason"] if b else None, k), "-", "-"]
            else:
                p = b["proportion_receiving"]
                gaps = ([pct(b["mean_gap"]), pct(b["median_gap"])] if not b["gaps_suppressed"]
                        else [hidden_words(b["gaps_reason"], k), "-"])
                line += [*gaps,
                         f"{group_label(ref)} {pct(p[ref])}, {group_label(comp)} {pct(p[comp])}"]
        rows.append(line)
        q_rows = []
        for q in g["quartiles"] or []:
            label = f"{name}: {q['quartile']} quartile"
            if q["suppressed"]:
                stacks.append(Stack(label, None, hidden=True))
                q_rows.append([q["quartile"], hidden_words(q["reason"], k), "-"])
            else:
                stacks.append(Stack(label, [q["counts"][ref], q["counts"][comp]]))
                q_rows.append([q["quartile"], f"{count(q['counts'][ref])} ({pct(q['shares'][ref])})",
                               f"{count(q['counts'][comp])} ({pct(q['shares'][comp])})"])
        quartile_tables.append(Table(f"Pay quartiles: {name}",
                                     ["Quartile", group_label(ref), group_label(comp)], q_rows))
    head = ["Characteristic", "People with pay", "Mean hourly gap", "Median hourly gap"]
    if bonus_supplied:
        head += ["Mean bonus gap", "Median bonus gap", "Receiving a bonus"]
    chart = charts.stacked_chart(
        chart_id="wf-pay", title="Who is in each pay quartile",
        desc=("Stacked bars: each pay quartile split between the reference group (male, White, "
              "non-disabled) and the comparison group. The same figures are in the tables."),
        options=[("reference", "Reference group (male, White, non-disabled)"),
                 ("comparison", "Comparison group (female, BME, Disabled)")],
        favourable=(), stacks=stacks)
    return Figure(
        "pay", "Pay gaps",
        "The six statutory gender pay gap measures applied to sex, ethnicity and disability, "
        "for groups of at least k people. A positive gap means the comparison group is paid "
        "less. " + ("Bonus measures are shown because bonus pay was supplied."
                    if bonus_supplied else "No bonus pay was supplied, so there are no bonus "
                    "measures."),
        chart, [Table("Pay gaps (percent of the reference group's pay)", head, rows),
                *quartile_tables])


def staff_survey(published: Mapping[str, Mapping[str, float]],
                 in_year: Sequence[tuple[str, Sequence[Any]]]) -> Figure:
    """WRES 5-8: the trust's published NHS Staff Survey figures, and the pulse surveys'."""
    series_rows = []
    bars = []
    for indicator, title in SURVEY_TITLES.items():
        figures = published.get(indicator, {})
        white, bme = figures.get("white"), figures.get("global-majority")
        series_rows.append([title, pct(white), pct(bme)])
        bars.append(Section(title, [Bar("White staff", white), Bar("BME staff", bme)]))
    tables = [Table("NHS Staff Survey, as published for the trust",
                    ["Indicator", "White staff", "BME staff"], series_rows)]
    for label, indicators in in_year:
        tables.append(Table(
            f"In-year view: {label} (pulse survey, through disclosure control)",
            ["Indicator", "White staff", "BME staff"],
            [[f"WRES {i.number}: {i.title}",
              pct(i.white.percent) if i.white.percent is not None else "hidden or none",
              pct(i.global_majority.percent) if i.global_majority.percent is not None
              else "hidden or none"] for i in indicators]))
    chart = charts.bar_chart(
        chart_id="wf-survey", title="WRES 5 to 8 from the NHS Staff Survey",
        desc=("Horizontal bars from 0 to 100%: the published percentage of White and BME staff "
              "for each indicator. The same figures are in the table."),
        sections=bars) if published else None
    return Figure(
        "staff-survey", "WRES 5 to 8: the NHS Staff Survey",
        "Indicators 5 to 8 come from the national NHS Staff Survey: the figures published for "
        "the trust, entered by the EDI lead. The trust's own pulse surveys give the in-year "
        "view (not comparable with the national survey's method).", chart, tables,
        () if published else ("The published figures have not been entered yet.",))


TREND_IDS = ("wres2", "wres3", "wres4", "wdes2", "wdes3")


def trends(history: Sequence[Json]) -> Figure | None:
    """Trust-level figures across the published periods (oldest first)."""
    if len(history) < 2:
        return None
    years = [p["period"][:4] for p in history]
    ratios = []
    rows = []
    for indicator in TREND_IDS:
        values = [_trust(p, indicator) for p in history]
        rows.append([SHORT[indicator], *(ratio(v["value"]) if v else "-" for v in values)])
        for year, v in zip(years, values, strict=True):
            if v:
                ratios.append(Ratio(f"{SHORT[indicator]}, {year}", v["value"],
                                    tuple(v["ci"]) if v["ci"] else None))
    shares = []
    for indicator, group in (("wres1", "BME staff"), ("wdes1", "Disabled staff")):
        points = []
        line = [f"{group} (share of workforce)"]
        for year, p in zip(years, history, strict=True):
            overall = next((r for r in p["representation"] if r["indicator"] == indicator
                            and r["by"] is None), None)
            points.append(Point(year, overall["share"] if overall else None))
            line.append(pct(overall["share"]) if overall else "-")
        shares.append(Series(group, points))
        rows.append(line)
    unadvertised = []
    for p in history:
        trust = [r for r in p["routes"] if r["band"] is None and r["ethnic_group"] is None]
        total = trust[0]["total"] if trust else 0
        n = sum(r["appointments"] for r in trust if not r["advertised"])
        unadvertised.append(100 * n / total if total else None)
    rows.append(["Appointments not advertised", *(pct(u) for u in unadvertised)])
    shares.append(Series("Appointments not advertised",
                         [Point(y, u) for y, u in zip(years, unadvertised, strict=True)]))
    chart = Markup("").join([
        ratio_chart(chart_id="wf-trend-ratios", title="Relative likelihoods by year",
                    desc=("Dot and whisker chart on a log scale, one row per indicator and "
                          "year, with the 0.80 to 1.25 reference band. The same figures are "
                          "in the table."), ratios=ratios),
        charts.trend_chart(chart_id="wf-trend-shares", title="Shares by year",
                           desc=("Line charts from 0 to 100%, one panel per measure, years "
                                 "left to right. The same figures are in the table."),
                           waves=years, series=shares)])
    return Figure("trends", "Trends across years",
                  "Trust-level figures of each published period (the latest published version "
                  "of each).", chart,
                  [Table("Trust-level figures by year", ["Measure", *years], rows)])


def declaration(payload: Json) -> Figure:
    k = payload["k"]
    rows = []
    for d in payload["declaration"]:
        where = d["population"] + ("" if not d["by"] else f", {band_label(d['by']['band'])}")
        if d["suppressed"]:
            rows.append([d["characteristic"].capitalize(), where, hidden_words(d["reason"], k),
                         "-"])
        else:
            rows.append([d["characteristic"].capitalize(), where,
                         f"{count(d['stated'])} of {count(d['total'])}", pct(d["rate"])])
    return Figure("declaration", "Declaration rates",
                  "People whose ethnicity or disability is not stated are left out of the "
                  "ratios; this is how many stated it.", None,
                  [Table("Declaration rates", ["Characteristic", "Who", "Stated", "Rate"], rows)])


# --- what changed ----------------------------------------------------------------------------


def _moved(name: str, before: float | None, after: float | None, *, unit: str = "",
           towards_one: bool = False) -> str | None:
    if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)):
        return None
    text = (lambda v: f"{v:.1f}%") if unit == "%" else (lambda v: f"{v:.2f}")
    if text(before) == text(after):
        return f"{name} is unchanged at {text(after)}."
    direction = "rose" if after > before else "fell"
    sentence = f"{name} {direction} from {text(before)} to {text(after)}"
    if towards_one:
        closer = abs(math.log(after)) < abs(math.log(before)) if before > 0 and after > 0 else None
        if closer is not None:
            sentence += ", closer to 1 (no difference)" if closer else ", further from 1"
    return sentence + "."


def what_changed(current: Json, previous: Json | None) -> list[str]:
    """Plain-English sentences comparing two periods' trust-level figures (numbers only)."""
    if previous is None:
        return ["This is the first period with figures, so there is nothing to compare with "
                "yet."]
    out: list[str] = []
    for indicator in TREND_IDS:
        a, b = _trust(previous, indicator), _trust(current, indicator)
        line = _moved(SHORT[indicator] + " (" + TITLES[indicator].split(": ", 1)[1].split(",")[0]
                      + ")", a and a["value"], b and b["value"], towards_one=True)
        if line:
            out.append(line)
    for indicator, group in (("wres1", "The BME share of the workforce"),
                             ("wdes1", "The Disabled share of the workforce")):
        a = next((r for r in previous["representation"] if r["indicator"] == indicator
                  and r["by"] is None), None)
        b = next((r for r in current["representation"] if r["indicator"] == indicator
                  and r["by"] is None), None)
        line = _moved(group, a and a["share"], b and b["share"], unit="%")
        if line:
            out.append(line)

    def unadvertised(p: Json) -> float | None:
        trust = [r for r in p["routes"] if r["band"] is None and r["ethnic_group"] is None]
        if not trust or not trust[0]["total"]:
            return None
        return 100 * sum(r["appointments"] for r in trust if not r["advertised"]) / trust[0]["total"]

    line = _moved("The share of appointments not advertised", unadvertised(previous),
                  unadvertised(current), unit="%")
    if line:
        out.append(line)
    gaps_before = {r["band"]: r["gap_people"] for r in previous["model_employer"]
                   if r["gap_people"] is not None}
    for r in current["model_employer"]:
        gap = r["gap_people"]
        if gap is None or r["band"] not in gaps_before:
            continue
        if gap > 0 and gaps_before[r["band"]] > 0 and gap != gaps_before[r["band"]]:
            out.append(f"{band_label(r['band'])} needs {gap:,} more BME staff to meet its "
                       f"target, {'down' if gap < gaps_before[r['band']] else 'up'} from "
                       f"{gaps_before[r['band']]:,}.")
        elif gap <= 0 < gaps_before[r["band"]]:
            out.append(f"{band_label(r['band'])} now meets its Model Employer target.")
    for indicator in ("wres9", "wdes10"):
        a = next((e for e in previous["indicators"] if e["id"] == indicator and e["by"] is None),
                 None)
        b = next((e for e in current["indicators"] if e["id"] == indicator and e["by"] is None),
                 None)
        if a and b and a["value"] is not None and b["value"] is not None \
                and round(a["value"], 1) != round(b["value"], 1):
            out.append(f"{SHORT[indicator]} (board minus workforce share) moved from "
                       f"{a['value']:+.1f} to {b['value']:+.1f} percentage points.")
    return out or ["No trust-level figure changed."]


def build_page(payload: Json, *, previous: Json | None, history: Sequence[Json],
               survey: Mapping[str, Mapping[str, float]],
               in_year: Sequence[tuple[str, Sequence[Any]]]) -> Page:
    page = Page(payload["period"], payload["organisation"], payload["version"],
                payload["status"], payload["note"], payload["k"])
    figures: list[Figure | None] = [
        headline(payload), wres1(payload), model_employer(payload), by_band(payload, "wres2"),
        wdes1(payload), by_band(payload, "wdes2"), board(payload), *funnel(payload),
        *routes(payload), pay_gaps(payload), staff_survey(survey, in_year), trends(history),
        declaration(payload)]
    page.figures = [f for f in figures if f is not None]
    page.changes = what_changed(payload, previous)
    return page
