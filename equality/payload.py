"""The JSON and CSV shapes of ``speakup workforce indicators`` (the ``indicators`` list is a
stable contract checked automatically; the other sections are documented in the README).

Trust-level figures of the mandatory WRES and WDES returns, the board's composition and the
list of unadvertised appointments (which says nothing about the people appointed) are shown
exactly. Every breakdown below trust level passes through `equality.suppression` (a
placeholder until the disclosure-control module is wired in).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analysis.workforce.indicators import (
    DEFINITIONS,
    BoardDifference,
    GroupRate,
    RelativeLikelihood,
    Share,
)
from analysis.workforce.paygap import PayGap
from analysis.workforce.report import WorkforceReport
from analysis.workforce.vocabulary import disability_group, wres_group
from equality.models import WorkforcePeriod
from equality.suppression import below_k

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


def _likelihood(r: RelativeLikelihood, k: int) -> Json:
    # Trust level (no breakdown) is the national return's figure: shown exactly.
    reason = below_k(r.first.total, r.second.total, k=k) if r.by else None
    return _entry(r.id, value=r.ratio, ci=r.ci, numerator=_rate(r.first),
                  denominator=_rate(r.second), by=dict(r.by), reason=reason)


def _share_entry(s: Share, k: int) -> Json:
    return _entry(s.id, value=s.share, ci=s.ci, numerator=s.count, denominator=s.total,
                  by=dict(s.by), reason=below_k(s.total, k=k))


def _board_entry(d: BoardDifference) -> Json:
    # Board members hold public office and the workforce share is trust level: shown exactly.
    by = None if d.membership == "voting" else {"membership": d.membership}
    return _entry(d.id, value=d.difference, ci=d.ci,
                  numerator={"group": d.board.group, "count": d.board.count,
                             "total": d.board.total},
                  denominator={"group": d.workforce.group, "count": d.workforce.count,
                               "total": d.workforce.total}, by=by, reason=None)


def indicators(report: WorkforceReport, k: int) -> list[Json]:
    """WRES 1 (per band), 2, 3, 4 and 9, WDES 1 (per cluster), 2, 3 and 10, in that order;
    WRES 2 and WDES 2 at trust level (``by`` null) and per band."""
    entries: list[Json] = []
    entries += [_share_entry(s, k) for s in report.wres1 if len(s.by) == 1]
    entries += [_likelihood(r, k) for r in report.wres2]
    entries += [_likelihood(report.wres3, k), _likelihood(report.wres4, k)]
    entries += [_board_entry(d) for d in report.wres9]
    entries += [_share_entry(s, k) for s in report.wdes1 if len(s.by) == 1]
    entries += [_likelihood(r, k) for r in report.wdes2]
    entries += [_likelihood(report.wdes3, k)]
    entries += [_board_entry(d) for d in report.wdes10]
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


def _representation(report: WorkforceReport, k: int) -> list[Json]:
    rows = []
    for s in (*report.wres1, *report.wdes1):
        reason = below_k(s.total, k=k) if s.by else None
        rows.append({"indicator": s.id, "by": dict(s.by) or None, "group": s.group,
                     "count": None if reason else s.count, "total": None if reason else s.total,
                     "share": None if reason else _num(s.share),
                     "ci": None if reason else _interval(s.ci),
                     "counts": None if reason else dict(s.counts),
                     "suppressed": reason is not None, "reason": reason})
    return rows


def _declaration(report: WorkforceReport, k: int) -> list[Json]:
    rows = []
    for d in report.declarations:
        reason = below_k(d.total, k=k) if d.by else None
        rows.append({"characteristic": d.characteristic, "population": d.population,
                     "by": dict(d.by) or None, "stated": None if reason else d.stated,
                     "total": None if reason else d.total,
                     "rate": None if reason else _num(d.rate),
                     "suppressed": reason is not None, "reason": reason})
    return rows


def _model_employer(report: WorkforceReport, k: int) -> list[Json]:
    rows = []
    for t in report.model_employer:
        reason = below_k(t.headcount, k=k)
        shown = reason is None
        rows.append({"band": t.band, "year": t.year, "target": t.target,
                     "headcount": t.headcount if shown else None,
                     "bme": t.bme if shown else None, "share": _num(t.share) if shown else None,
                     "target_people": t.target_people if shown else None,
                     "gap_people": t.gap_people if shown else None,
                     "suppressed": not shown, "reason": reason})
    return rows


def _funnel(report: WorkforceReport, k: int) -> list[Json]:
    rows = []
    for f in report.funnel:
        reason = below_k(f.applied, k=k) if (f.band is not None or f.group != "all") else None
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


def _routes(report: WorkforceReport, k: int) -> list[Json]:
    rows = []
    for r in report.routes:
        breakdown = r.band is not None or r.group is not None
        reason = below_k(r.total, k=k) if breakdown else None
        shown = reason is None
        rows.append({"band": r.band, "ethnic_group": r.group, "route": r.route,
                     "advertised": r.advertised,
                     "appointments": r.appointments if shown else None,
                     "total": r.total if shown else None,
                     "share": _num(r.share) if shown else None,
                     "suppressed": not shown, "reason": reason})
    return rows


def _pay_gap(g: PayGap, k: int) -> Json:
    hourly = g.hourly
    reason = below_k(hourly.reference_n, hourly.comparison_n, k=k) or (
        "no pay" if not (hourly.reference_n and hourly.comparison_n) else None)
    shown = reason is None
    bonus: Json | None = None
    if g.bonus is not None and shown:
        paid = g.bonus.paid
        bonus_reason = below_k(paid.reference_n, paid.comparison_n, k=k)
        bonus = {
            "eligible": {g.reference: g.bonus.reference_eligible,
                         g.comparison: g.bonus.comparison_eligible},
            "receiving": {g.reference: paid.reference_n, g.comparison: paid.comparison_n}
            if bonus_reason is None else None,
            "proportion_receiving": {g.reference: _num(g.bonus.reference_proportion),
                                     g.comparison: _num(g.bonus.comparison_proportion)}
            if bonus_reason is None else None,
            "mean_gap": _num(paid.mean_gap) if bonus_reason is None else None,
            "median_gap": _num(paid.median_gap) if bonus_reason is None else None,
            "suppressed": bonus_reason is not None, "reason": bonus_reason,
        }
    quartiles = None
    if shown:
        quartiles = []
        for q in g.quartiles:
            q_reason = below_k(q.total, k=k)
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
    return {
        "period": period.snapshot.isoformat(), "version": period.version,
        "status": period.status, "note": period.note, "organisation": organisation, "k": k,
        "indicators": indicators(report, k),
        "definitions": _definitions(report),
        "representation": _representation(report, k),
        "declaration": _declaration(report, k),
        "board": _board(report),
        "model_employer": _model_employer(report, k),
        "funnel": _funnel(report, k),
        "routes": _routes(report, k),
        "unadvertised": [{"vacancy_id": u.vacancy_id, "band": u.band,
                          "directorate": u.directorate or None, "route": u.route,
                          "quarter": u.quarter} for u in report.unadvertised],
        "pay_gaps": [_pay_gap(g, k) for g in report.pay_gaps],
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
