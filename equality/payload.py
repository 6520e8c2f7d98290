"""The JSON and CSV shapes of ``speakup workforce indicators`` and of the workforce pages (the
``indicators`` list is a stable contract checked automatically; the other sections are
documented in the README).

Disclosure control
------------------
Trust-level figures of the mandatory WRES and WDES returns, the board's composition (public
office holders) and the list of unadvertised appointments (which says nothing about the people
appointed) are shown exactly. Every figure below trust level is put through
`analysis.disclosure.release`, here and nowhere else in the workforce code, so the module can be
swapped without touching the pages: `_Disclosed` builds one `Population` per question from the
period's records (staff by band, cluster and clinical; shortlisted applicants by band;
advertised-post applicants by band and detailed ethnic group, with the broad and WRES groups
as groupings of it, disability and sex; appointments by band and WRES group; paid staff by
quartile, whose sizes are public, and group) and every breakdown of that question is a release
of it, audited by integer programming over all of that question's figures (the band, cluster or
quartile is the hub: each table crosses it with one other dimension). Not defended: tables of
different questions combined (e.g. the funnel and the routes of one band); a re-imported period
is not yet kept and audited against the previous version (`core.release_store` does that for
survey results); values nobody has are left out of a population rather than listed.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analysis.disclosure import Cell, Policy, Population, release
from analysis.workforce.indicators import (
    DEFINITIONS,
    BoardDifference,
    GroupRate,
    RelativeLikelihood,
    Share,
)
from analysis.workforce.paygap import COMPARISONS, QUARTILES, PayGap, quartile_sizes, rank
from analysis.workforce.report import WorkforceReport
from analysis.workforce.vocabulary import (
    ADVERTISED_ROUTES,
    DISABLED,
    ETHNICITIES,
    GLOBAL_MAJORITY,
    NOT_STATED,
    broad_group,
    disability_group,
    wdes_cluster,
    wres_group,
)
from equality.models import WorkforcePeriod

# --- disclosure control of the breakdowns ----------------------------------------------------

Group = dict[str, str]


def hidden_reason(cell: Cell) -> str | None:
    """Why disclosure control hid a released cell's count or its distribution, else None."""
    if cell.suppressed:
        return cell.reason or "hidden"
    if cell.n and cell.counts is None:
        return cell.reason or "hidden"
    return None


class _Question:
    """One population (records with their breakdown values and one answer each) and its
    released cells, each breakdown released once. ``counted``: the answer is a constant (the
    records are only counted, e.g. staff by band and ethnic group), so only a hidden count
    hides a figure (the same-answer rule says nothing about a constant)."""

    def __init__(self, tally: Mapping[tuple[str, ...], int], dimensions: Sequence[str], k: int,
                 *, counted: bool = False,
                 groupings: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (),
                 public: frozenset[str] = frozenset()) -> None:
        # ``tally``: how many records have each (value of each dimension..., answer), as a SQL
        # GROUP BY gives them (counting tuples first is far cheaper than a dict per record).
        self.population = Population.from_counts([(*key, n) for key, n in tally.items()],
                                                  dimensions)
        # The first dimension (band, cluster, quartile) is the hub: every two-way table of the
        # workforce pages crosses it with one other dimension.
        self.policy = Policy(k=k, hub=dimensions[0] if len(dimensions) > 1 else None,
                             groupings=groupings, wave_dim=None, public=public,
                             counted=counted)
        self.counted = counted
        self._cells: dict[tuple[tuple[str, str], ...], Cell] = {}
        self._released: set[tuple[str, ...]] = set()

    def cell(self, group: Mapping[str, str]) -> Cell:
        """The released cell of ``group``; a value nobody has is an empty group (0, shown)."""
        by = tuple(sorted(group))
        if by not in self._released:
            table = release(self.population, by=by, where={}, policy=self.policy,
                            options=self.population.answers, favourable=())
            for c in table.cells:
                self._cells[tuple(sorted(c.group.items()))] = c
            self._released.add(by)
        found = self._cells.get(tuple(sorted(group.items())))
        if found is None:  # a value nobody has: shown like a small group (no zeros released)
            return Cell(dict(group), None, True, "below k", None, None, 0, self.policy.k - 1)
        return found

    def reason(self, *groups: Mapping[str, str]) -> str | None:
        """Why any of ``groups`` is hidden (the first reason found), else None."""
        for group in groups:
            cell = self.cell(group)
            reason = (cell.reason or "hidden") if cell.suppressed else (
                None if self.counted else hidden_reason(cell))
            if reason:
                return reason
        return None


# The funnel's breakdowns are those of `analysis.workforce.recruitment.DIMENSIONS`; the WRES
# and broad ethnic groups are groupings of the detailed ethnicity, so disclosure control knows
# they add up (a broad group is the sum of its detailed groups).
_ETHNIC_CODES = (*ETHNICITIES, NOT_STATED)
_FUNNEL_GROUPINGS = (
    ("wres_group", "ethnicity", tuple((c, wres_group(c)) for c in _ETHNIC_CODES)),
    ("ethnic_group", "ethnicity", tuple((c, broad_group(c)) for c in _ETHNIC_CODES)),
)


class _Disclosed:
    """Every breakdown of one period's figures, released by `analysis.disclosure`.

    The characteristics a figure compares (ethnic group, disability, sex) are dimensions, not
    answers, so a small group (three BME staff in a band, three Disabled applicants shortlisted
    at a band) is a small cell and hides the figures that would show it."""

    def __init__(self, report: WorkforceReport, k: int) -> None:
        self.k = k
        staff = report.data.staff
        applications = report.data.applications

        def yes_no(flag: bool) -> str:
            return "yes" if flag else "no"

        # Staff counted by band (or cluster), clinical or not, and whether in the group a share
        # counts (BME; Disabled): WRES 1 and WDES 1 show a band's headcount and that group's
        # count, so those two cells and their difference must be safe. Released two
        # dimensions at a time (a band's split, or a band's clinical split).
        people = Counter((s.band, s.clinical, s.ethnicity, s.disability) for s in staff)
        wres1: Counter[tuple[str, ...]] = Counter()
        wdes1: Counter[tuple[str, ...]] = Counter()
        declared = {"ethnicity": Counter[tuple[str, ...]](),
                    "disability": Counter[tuple[str, ...]]()}
        for (band, clinical, ethnicity, disability), n in people.items():
            wres1[band, yes_no(clinical), yes_no(wres_group(ethnicity) == GLOBAL_MAJORITY),
                  "staff"] += n
            wdes1[wdes_cluster(band), yes_no(clinical),
                  yes_no(disability_group(disability) == DISABLED), "staff"] += n
            declared["ethnicity"][band, yes_no(ethnicity != NOT_STATED), "staff"] += n
            declared["disability"][band, yes_no(disability != NOT_STATED), "staff"] += n
        self.wres1 = _Question(wres1, ("band", "clinical", "bme"), k, counted=True)
        self.wdes1 = _Question(wdes1, ("cluster", "clinical", "disabled"), k, counted=True)
        # Declaration rates by band: a band's headcount and how many stated each.
        self.declared = {c: _Question(t, ("band", "stated"), k, counted=True)
                         for c, t in declared.items()}
        # Applications: identical ones counted once, then their groups worked out.
        kinds = Counter((a.band, a.ethnicity, a.disability, a.sex, a.route, a.shortlisted,
                         a.interviewed, a.appointed) for a in applications)
        outcome = {True: "appointed", False: "not appointed"}
        wres2: Counter[tuple[str, ...]] = Counter()
        wdes2: Counter[tuple[str, ...]] = Counter()
        funnel: Counter[tuple[str, ...]] = Counter()
        routes: Counter[tuple[str, ...]] = Counter()
        for (band, ethnicity, disability, sex, route, shortlisted, interviewed,
             appointed), n in kinds.items():
            if shortlisted:
                wres2[band, wres_group(ethnicity), outcome[appointed]] += n
                wdes2[band, disability_group(disability), outcome[appointed]] += n
            if route in ADVERTISED_ROUTES:
                funnel[band, ethnicity, disability_group(disability), sex,
                       f"s{shortlisted:d}i{interviewed:d}a{appointed:d}"] += n
            if appointed:
                routes[band, wres_group(ethnicity), route] += n
        self.wres2 = _Question(wres2, ("band", "group"), k)
        self.wdes2 = _Question(wdes2, ("band", "group"), k)
        self.funnel = _Question(funnel, ("band", "ethnicity", "disability", "sex"), k,
                                groupings=_FUNNEL_GROUPINGS)
        self.routes = _Question(routes, ("band", "wres_group"), k)
        self.pay: dict[str, _Question] = {}
        self.bonus: dict[str, _Question] = {}
        self.bonus_paid: dict[str, _Question] = {}
        for characteristic, (group_of, reference, comparison) in COMPARISONS.items():
            in_groups = [s for s in staff if group_of(s) in (reference, comparison)]
            paid = [(s.hourly_pay, group_of(s) == comparison) for s in in_groups
                    if s.hourly_pay is not None]
            quartiles: Counter[tuple[str, ...]] = Counter()
            flags = iter(rank(paid))
            for name, size in zip(QUARTILES, quartile_sizes(len(paid)), strict=True):
                for _ in range(size):
                    quartiles[name, comparison if next(flags) else reference, "paid"] += 1
            self.pay[characteristic] = _Question(quartiles, ("quartile", "group"), k,
                                                 counted=True, public=frozenset({"quartile"}))
            with_bonus = [(group_of(s), (s.bonus_pay or 0) > 0) for s in in_groups
                          if s.bonus_pay is not None]
            self.bonus[characteristic] = _Question(
                Counter((g, "received" if got else "none") for g, got in with_bonus),
                ("group",), k)
            self.bonus_paid[characteristic] = _Question(
                Counter((g, "received") for g, got in with_bonus if got), ("group",), k,
                counted=True)

    def share_reason(self, s: Share) -> str | None:
        """A WRES 1 or WDES 1 share below trust level: the breakdown's cell, and each group's
        cell within the band or cluster (a share shows every group's count)."""
        if not s.by:
            return None
        by = dict(s.by)
        question, group = (self.wres1, "bme") if s.id == "wres1" else (self.wdes1, "disabled")
        groups = [{**by, group: g} for g in ("yes", "no")] if len(by) == 1 else []
        return question.reason(by, *groups)

    def likelihood_reason(self, r: RelativeLikelihood) -> str | None:
        """WRES 2 or WDES 2 in a band: both groups' cells, counts and outcomes."""
        question = self.wres2 if r.id == "wres2" else self.wdes2
        band = dict(r.by)
        return question.reason(*({**band, "group": side.group} for side in (r.first, r.second)))

    def band_reason(self, band: str) -> str | None:
        """A band's headcount and BME count (Model Employer)."""
        return self.wres1.reason({"band": band}, {"band": band, "bme": "yes"},
                                 {"band": band, "bme": "no"})


TABLES = ("indicators", "representation", "declaration", "model_employer", "funnel", "routes",
          "unadvertised", "pay_gaps")

Json = dict[str, Any]


def _num(value: float | None) -> float | None:
    """A finite float rounded to 6 places, or None (JSON has no infinity)."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)


def _interval(ci: tuple[float, float] | None) -> list[float] | None:
    if ci is None or not all(math.isfinite(x) for x in ci):
        return None
    return [round(ci[0], 6), round(ci[1], 6)]


def _rate(rate: GroupRate) -> Json:
    return {"group": rate.group, "count": rate.count, "total": rate.total}


def _entry(indicator: str, *, value: float | None, ci: tuple[float, float] | None,
           numerator: object, denominator: object, by: Mapping[str, str] | None,
           reason: str | None) -> Json:
    hidden = reason is not None
    return {"id": indicator, "value": None if hidden else _num(value),
            "ci": None if hidden else _interval(ci),
            "numerator": None if hidden else numerator,
            "denominator": None if hidden else denominator,
            "suppressed": hidden, "reason": reason, "by": dict(by) if by else None}


def _likelihood(r: RelativeLikelihood, d: _Disclosed) -> Json:
    # Trust level (no breakdown) is the national return's figure: shown exactly.
    reason = d.likelihood_reason(r) if r.by else None
    return _entry(r.id, value=r.ratio, ci=r.ci, numerator=_rate(r.first),
                  denominator=_rate(r.second), by=dict(r.by), reason=reason)


def _share_entry(s: Share, d: _Disclosed) -> Json:
    return _entry(s.id, value=s.share, ci=s.ci, numerator=s.count, denominator=s.total,
                  by=dict(s.by), reason=d.share_reason(s))


def _board_entry(d: BoardDifference) -> Json:
    # Board members hold public office and the workforce share is trust level: shown exactly.
    by = None if d.membership == "voting" else {"membership": d.membership}
    return _entry(d.id, value=d.difference, ci=d.ci,
                  numerator={"group": d.board.group, "count": d.board.count,
                             "total": d.board.total},
                  denominator={"group": d.workforce.group, "count": d.workforce.count,
                               "total": d.workforce.total}, by=by, reason=None)


def indicators(report: WorkforceReport, k: int, disclosed: _Disclosed | None = None) -> list[Json]:
    """WRES 1 (per band), 2, 3, 4 and 9, WDES 1 (per cluster), 2, 3 and 10, in that order;
    WRES 2 and WDES 2 at trust level (``by`` null) and per band."""
    d = disclosed or _Disclosed(report, k)
    entries: list[Json] = []
    entries += [_share_entry(s, d) for s in report.wres1 if len(s.by) == 1]
    entries += [_likelihood(r, d) for r in report.wres2]
    entries += [_likelihood(report.wres3, d), _likelihood(report.wres4, d)]
    entries += [_board_entry(b) for b in report.wres9]
    entries += [_share_entry(s, d) for s in report.wdes1 if len(s.by) == 1]
    entries += [_likelihood(r, d) for r in report.wdes2]
    entries += [_likelihood(report.wdes3, d)]
    entries += [_board_entry(b) for b in report.wdes10]
    return entries


def _definitions(report: WorkforceReport) -> Json:
    years = {"wres3": report.wres3.snapshots, "wdes3": report.wdes3.snapshots,
             "wres4": report.wres4.snapshots}
    result = {}
    for d in DEFINITIONS.values():
        item: Json = {"title": d.title, "direction": d.direction, "ci_method": d.ci_method,
                      "reference_band": list(d.reference_band) if d.reference_band else None}
        if d.rolling_years > 1:
            pooled = [s.isoformat() for s in years.get(d.id, ())]
            item["rolling_years"] = d.rolling_years
            item["snapshots"] = pooled
            if len(pooled) < d.rolling_years:
                item["note"] = ("single year: the previous year's staff snapshot has not been "
                                "imported, so this is not yet the two-year rolling average")
        result[d.id] = item
    return result


def _representation(report: WorkforceReport, d: _Disclosed) -> list[Json]:
    rows = []
    for s in (*report.wres1, *report.wdes1):
        reason = d.share_reason(s)
        rows.append({"indicator": s.id, "by": dict(s.by) or None, "group": s.group,
                     "count": None if reason else s.count, "total": None if reason else s.total,
                     "share": None if reason else _num(s.share),
                     "ci": None if reason else _interval(s.ci),
                     "counts": None if reason else dict(s.counts),
                     "suppressed": reason is not None, "reason": reason})
    return rows


def _declaration(report: WorkforceReport, disclosed: _Disclosed) -> list[Json]:
    rows = []
    for d in report.declarations:
        reason = None
        if d.by:
            band = dict(d.by)["band"]
            reason = disclosed.declared[d.characteristic].reason(
                {"band": band}, {"band": band, "stated": "yes"}, {"band": band, "stated": "no"})
        rows.append({"characteristic": d.characteristic, "population": d.population,
                     "by": dict(d.by) or None, "stated": None if reason else d.stated,
                     "total": None if reason else d.total,
                     "rate": None if reason else _num(d.rate),
                     "suppressed": reason is not None, "reason": reason})
    return rows


def _model_employer(report: WorkforceReport, d: _Disclosed) -> list[Json]:
    rows = []
    for t in report.model_employer:
        reason = d.band_reason(t.band)
        shown = reason is None
        rows.append({"band": t.band, "year": t.year, "target": t.target,
                     "headcount": t.headcount if shown else None,
                     "bme": t.bme if shown else None, "share": _num(t.share) if shown else None,
                     "target_people": t.target_people if shown else None,
                     "gap_people": t.gap_people if shown else None,
                     "suppressed": not shown, "reason": reason})
    return rows


def _funnel(report: WorkforceReport, d: _Disclosed) -> list[Json]:
    rows = []
    for f in report.funnel:
        group: dict[str, str] = {} if f.group == "all" else {f.dimension: f.group}
        if f.band is not None:
            group["band"] = f.band
        reason = d.funnel.reason(group) if group else None
        shown = reason is None
        rows.append({"dimension": f.dimension, "group": f.group, "band": f.band,
                     "applied": f.applied if shown else None,
                     "shortlisted": f.shortlisted if shown else None,
                     "interviewed": f.interviewed if shown else None,
                     "appointed": f.appointed if shown else None,
                     "shortlisting_rate": _num(f.shortlisting_rate) if shown else None,
                     "appointment_rate": _num(f.appointment_rate) if shown else None,
                     "suppressed": not shown, "reason": reason})
    return rows


def _routes(report: WorkforceReport, d: _Disclosed) -> list[Json]:
    rows = []
    for r in report.routes:
        group = {**({"band": r.band} if r.band else {}),
                 **({"wres_group": r.group} if r.group else {})}
        reason = d.routes.reason(group) if group else None
        shown = reason is None
        rows.append({"band": r.band, "ethnic_group": r.group, "route": r.route,
                     "advertised": r.advertised,
                     "appointments": r.appointments if shown else None,
                     "total": r.total if shown else None,
                     "share": _num(r.share) if shown else None,
                     "suppressed": not shown, "reason": reason})
    return rows


def _pay_gap(g: PayGap, d: _Disclosed) -> Json:
    hourly = g.hourly
    pay = d.pay[g.characteristic]
    reason = (pay.reason({"group": g.reference}) or pay.reason({"group": g.comparison}) or (
        "no pay" if not (hourly.reference_n and hourly.comparison_n) else None))
    shown = reason is None
    bonus: Json | None = None
    if g.bonus is not None and shown:
        paid = g.bonus.paid
        received = d.bonus[g.characteristic]
        bonus_reason = received.reason({"group": g.reference}) or received.reason(
            {"group": g.comparison})
        # A mean or median bonus describes the people who received one: each side must be a
        # group of at least k of them (one Disabled person with a bonus would be their bonus).
        receivers = d.bonus_paid[g.characteristic]
        gap_reason = bonus_reason or receivers.reason({"group": g.reference},
                                                      {"group": g.comparison})
        bonus = {
            "eligible": {g.reference: g.bonus.reference_eligible,
                         g.comparison: g.bonus.comparison_eligible},
            "receiving": {g.reference: paid.reference_n, g.comparison: paid.comparison_n}
            if bonus_reason is None else None,
            "proportion_receiving": {g.reference: _num(g.bonus.reference_proportion),
                                     g.comparison: _num(g.bonus.comparison_proportion)}
            if bonus_reason is None else None,
            "mean_gap": _num(paid.mean_gap) if gap_reason is None else None,
            "median_gap": _num(paid.median_gap) if gap_reason is None else None,
            "gaps_suppressed": gap_reason is not None, "gaps_reason": gap_reason,
            "suppressed": bonus_reason is not None, "reason": bonus_reason,
        }
    quartiles = None
    if shown:
        quartiles = []
        for q in g.quartiles:
            q_reason = (pay.reason({"quartile": q.name})
                        or pay.reason({"quartile": q.name, "group": g.reference})
                        or pay.reason({"quartile": q.name, "group": g.comparison}))
            quartiles.append({
                "quartile": q.name,
                "counts": {g.reference: q.reference, g.comparison: q.comparison}
                if q_reason is None else None,
                "shares": {g.reference: _num(q.share("reference")),
                           g.comparison: _num(q.share("comparison"))}
                if q_reason is None else None,
                "suppressed": q_reason is not None, "reason": q_reason})
    return {
        "characteristic": g.characteristic, "reference": g.reference, "comparison": g.comparison,
        "n": {g.reference: hourly.reference_n, g.comparison: hourly.comparison_n}
        if shown else None,
        "excluded": g.excluded if shown else None,
        "mean_hourly": {g.reference: _num(hourly.reference_mean),
                        g.comparison: _num(hourly.comparison_mean)} if shown else None,
        "median_hourly": {g.reference: _num(hourly.reference_median),
                          g.comparison: _num(hourly.comparison_median)} if shown else None,
        "mean_hourly_gap": _num(hourly.mean_gap) if shown else None,
        "median_hourly_gap": _num(hourly.median_gap) if shown else None,
        "bonus": bonus, "quartiles": quartiles, "suppressed": not shown, "reason": reason,
    }


def _board(report: WorkforceReport) -> Json:
    members = report.board

    def count(values: Iterable[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    return {
        "source": report.board_source,
        "members": len(members), "voting": sum(m.voting for m in members),
        "executive": sum(m.executive for m in members),
        "non_executive": sum(not m.executive for m in members),
        "by_ethnic_group": count(wres_group(m.ethnicity) for m in members),
        "by_disability": count(disability_group(m.disability) for m in members),
    }


def workforce_payload(period: WorkforcePeriod, report: WorkforceReport, *, k: int,
                      organisation: str) -> Json:
    """Everything ``speakup workforce indicators`` prints as JSON."""
    d = _Disclosed(report, k)
    return {
        "period": period.snapshot.isoformat(), "version": period.version,
        "status": period.status, "note": period.note, "organisation": organisation, "k": k,
        "indicators": indicators(report, k, d),
        "definitions": _definitions(report),
        "representation": _representation(report, d),
        "declaration": _declaration(report, d),
        "board": _board(report),
        "model_employer": _model_employer(report, d),
        "funnel": _funnel(report, d),
        "routes": _routes(report, d),
        "unadvertised": [{"vacancy_id": u.vacancy_id, "band": u.band,
                          "directorate": u.directorate or None, "route": u.route,
                          "quarter": u.quarter} for u in report.unadvertised],
        "pay_gaps": [_pay_gap(g, d) for g in report.pay_gaps],
    }


# Header rows of tables that can be empty (no targets set, nothing appointed unadvertised).
_EMPTY_COLUMNS = {
    "unadvertised": ("vacancy_id", "band", "directorate", "route", "quarter"),
    "model_employer": ("band", "year", "target", "headcount", "bme", "share", "target_people",
                       "gap_people", "suppressed", "reason"),
}


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, Mapping):
        flat: dict[str, object] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}_{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return {f"{prefix}_low": value[0], f"{prefix}_high": value[-1]}
    return {prefix: value}


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


INDICATOR_COLUMNS = ("id", "by", "value", "ci_low", "ci_high", "numerator_group",
                     "numerator_count", "numerator_total", "denominator_group",
                     "denominator_count", "denominator_total", "suppressed", "reason")


def _indicator_row(entry: Mapping[str, Any]) -> dict[str, object]:
    """An indicator as one CSV row: a count on its own (a share's numerator or denominator) goes
    in the ``_count`` column; a group's rate in ``_group``, ``_count`` and ``_total``."""
    row: dict[str, object] = {c: None for c in INDICATOR_COLUMNS}
    row.update(id=entry["id"], value=entry["value"], suppressed=entry["suppressed"],
               reason=entry["reason"],
               by=";".join(f"{k}={v}" for k, v in (entry["by"] or {}).items()))
    if entry["ci"]:
        row["ci_low"], row["ci_high"] = entry["ci"]
    for side in ("numerator", "denominator"):
        value = entry[side]
        if isinstance(value, Mapping):
            row.update({f"{side}_{k}": value[k] for k in ("group", "count", "total")})
        else:
            row[f"{side}_count"] = value
    return row


def payload_csv(payload: Json, table: str) -> str:
    """One section of the payload as CSV (nested values flattened into ``a_b`` columns; an
    interval into ``ci_low`` and ``ci_high``; pay gap quartiles into one row each)."""
    rows: Sequence[Mapping[str, object]] = payload[table]
    if table == "indicators":
        rows = [_indicator_row(r) for r in rows]
    if table == "pay_gaps":
        rows = [{**{k: v for k, v in g.items() if k != "quartiles"}, **(
            {"quartile": q["quartile"], "quartile_counts": q["counts"],
             "quartile_suppressed": q["suppressed"]} if q else {})}
            for g in rows for q in (g["quartiles"] or [None])]
    flat = [_flatten(r) for r in rows]
    columns: list[str] = list(_EMPTY_COLUMNS.get(table, ())) if not flat else []
    for r in flat:
        columns.extend(c for c in r if c not in columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in flat:
        writer.writerow([_cell(r.get(c)) for c in columns])
    return out.getvalue()
