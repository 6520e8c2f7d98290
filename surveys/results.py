"""Survey results: every figure goes through :mod:`analysis.disclosure`, nothing around it.

Only waves that take no more answers (closed, or imported) have results: figures that change
while a wave is open would let anyone who watches them change learn one person's answers.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from analysis.disclosure import Policy, Population, Release, release
from analysis.statistics import RatioEstimate, ratio_interval, wilson_interval
from config.settings import Settings
from surveys import services
from surveys.definition import Question, SurveyDefinition, ethnic_group
from surveys.models import DEMOGRAPHIC_COLUMNS, Survey, SurveyWave
from surveys.services import SurveyError, definition_of

WAVE = "wave"
# Ethnicity is analysed as White / Global majority (the WRES grouping): the 19 ONS categories
# are stored, but a breakdown by them would be almost all hidden at k = 11, and every extra
# dimension multiplies the groups disclosure control must check.
BREAKDOWN_COLUMNS = tuple(c for c in DEMOGRAPHIC_COLUMNS if c != "ethnicity")
DIMENSIONS = (WAVE, "ethnic_group", *BREAKDOWN_COLUMNS)
FILTER_DIMS = frozenset({"directorate"})
DIMENSION_LABELS = {
    WAVE: "Wave", "ethnic_group": "White / Global majority",
    "band": "Pay band", "staff_group": "Staff group", "directorate": "Directorate",
    "internationally_educated": "Educated outside the UK", "disability": "Disability",
    "sex": "Sex", "gender_identity": "Gender identity same as sex at birth", "age_band": "Age",
}


class ResultsError(SurveyError):
    """A results query that cannot be answered; the message says why."""


def policy(settings: Settings) -> Policy:
    return Policy(k=settings.min_cell_size, filter_dims=FILTER_DIMS, wave_dim=WAVE)


def released_waves(survey: Survey) -> list[SurveyWave]:
    """Waves whose results may be shown: closed ones and imported ones (never opened)."""
    return [w for w in survey.waves if w.status != "open"]


_CACHE_SIZE = 128
_populations: OrderedDict[tuple[object, ...], Population] = OrderedDict()
_cache_lock = threading.Lock()


def population(db: Session, *, survey: Survey, question: Question,
               settings: Settings) -> Population:
    """One question's answers in every released wave, as atoms of every dimension.

    Released waves take no more answers, so populations are cached, keyed by the waves and
    their response counts (an import into a wave changes the key).
    """
    waves = released_waves(survey)
    if not waves:
        raise ResultsError("No wave of this survey has closed yet: results appear when a wave "
                           "closes.")
    sizes = services.response_counts(db, waves)
    key = (str(db.get_bind().url), survey.id, question.id,
           tuple(sorted((w.id, w.label, sizes[w.id]) for w in waves)))
    with _cache_lock:
        if key in _populations:
            _populations.move_to_end(key)
            return _populations[key]
    tally: Counter[tuple[str | None, ...]] = Counter()
    for w in waves:
        for response in services.wave_responses(db, wave_=w, settings=settings):
            chosen = response.answers.get(question.id)
            if not chosen:
                continue
            d = response.demographics
            groups = (w.label, ethnic_group(d.get("ethnicity")),
                      *(d.get(c) for c in BREAKDOWN_COLUMNS))
            for answer in chosen:
                tally[(*groups, answer)] += 1
    atoms = [(*values, count) for values, count in tally.items()]
    built = Population.from_counts(atoms, DIMENSIONS)
    with _cache_lock:
        _populations[key] = built
        while len(_populations) > _CACHE_SIZE:
            _populations.popitem(last=False)
    return built


def wave_sizes(db: Session, *, survey: Survey, settings: Settings) -> dict[int, int | None]:
    """Responses per closed wave, through disclosure control (None: hidden, fewer than k, or
    the wave is not closed).

    Each wave's count is released on its own, from a population of that wave alone, so it is
    fixed once the wave closes: answers to a later wave never change it (issue 12: released
    with every wave's count in one table, a new wave with few answers made a past wave's
    count hidden by differencing and complementary suppression). Nothing here adds waves
    together, so no pooled total exists to subtract from; the results page's tables protect
    their own pooled groups. An open wave's count would grow with each answer, so it is not
    counted until it closes.
    """
    waves = [w for w in survey.waves if w.status == "closed"]
    counts = services.response_counts(db, waves)
    out: dict[int, int | None] = {w.id: None for w in survey.waves}
    for w in waves:
        atoms = [(w.label, "responded", counts[w.id])] if counts[w.id] else []
        table = release(Population.from_counts(atoms, [WAVE]), by=[], where={WAVE: w.label},
                        policy=policy(settings), options=["responded"], favourable=[])
        out[w.id] = table.cell({}).n
    return out


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    release: Release


def _check_dims(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise ResultsError(f"unknown dimension(s): {', '.join(unknown)}; choose from "
                           + ", ".join(DIMENSIONS))


def question_results(
    db: Session, *, survey: Survey, settings: Settings, by: Sequence[str],
    where: Mapping[str, str], question_ids: Sequence[str] | None = None,
    wave_label: str | None = None,
) -> list[QuestionResult]:
    """Disclosure-controlled tables for each answerable question (all, or ``question_ids``).

    Unless ``by`` includes the wave, the query is fixed to ``wave_label`` (default: the latest
    released wave).
    """
    definition = definition_of(survey, settings)
    _check_dims([*by, *where])
    if len(by) > 2:
        raise ResultsError("break down by at most two dimensions")
    if set(where) - FILTER_DIMS and len(by) + len(where) > 2:
        raise ResultsError("filter by directorate only, or use it as a breakdown")
    fixed = dict(where)
    if WAVE not in by and WAVE not in fixed:
        waves = released_waves(survey)
        if not waves:
            raise ResultsError("No wave of this survey has closed yet: results appear when a "
                               "wave closes.")
        fixed[WAVE] = wave_label or waves[-1].label
    questions = _questions(definition, question_ids)
    out = []
    for q in questions:
        pop = population(db, survey=survey, question=q, settings=settings)
        out.append(QuestionResult(q, release(pop, by=list(by), where=fixed, policy=policy(
            settings), options=list(q.option_ids), favourable=list(q.favourable))))
    return out


def _questions(definition: SurveyDefinition, ids: Sequence[str] | None) -> list[Question]:
    if ids:
        try:
            return [definition.question(i) for i in ids]
        except KeyError as e:
            raise ResultsError(f"no question {e.args[0]!r} in this survey") from e
    return [q for q in definition.questions if not q.is_text]


@dataclass(frozen=True)
class WresSide:
    """One side of a WRES comparison, as far as disclosure control lets it be shown."""

    n: int | None  # respondents as shown (None: suppressed; may be rounded)
    reason: str | None  # why a figure is hidden, from disclosure control
    total: int | None  # respondents behind the percentage (None: hidden)
    hits: int | None  # respondents counted by the indicator (None: hidden)
    percent: float | None
    interval: tuple[float, float] | None  # 95% Wilson, in percent


@dataclass(frozen=True)
class WresIndicator:
    """A WRES staff-survey indicator: White and Global majority staff compared."""

    number: int
    title: str
    question: Question
    white: WresSide
    global_majority: WresSide
    ratio: RatioEstimate | None  # Global majority % / White %, when both sides are shown


WRES_TITLES = {
    5: "Experienced harassment, bullying or abuse from patients, relatives or the public",
    6: "Experienced harassment, bullying or abuse from staff",
    7: "Believe the organisation provides equal opportunities for career progression",
    8: "Experienced discrimination from a manager, team leader or colleague",
}


def _side(release_: Release, group: str, question: Question) -> WresSide:
    cell = next((c for c in release_.cells if c.group == {"ethnic_group": group}), None)
    if cell is None:  # nobody on this side answered
        return WresSide(0, None, None, None, None, None)
    if cell.counts is None:
        return WresSide(cell.n, cell.reason, None, None, None, None)
    total = sum(cell.counts.values())
    counted = (lambda o: o in question.favourable) if question.wres == 7 else (
        lambda o: o not in question.favourable)
    hits = sum(v for o, v in cell.counts.items() if counted(o))
    if not total:
        return WresSide(cell.n, None, total, hits, None, None)
    low, high = wilson_interval(hits, total)
    return WresSide(cell.n, None, total, hits, 100 * hits / total, (100 * low, 100 * high))


def wres_indicators(db: Session, *, survey: Survey, settings: Settings,
                    wave_label: str | None = None) -> list[WresIndicator]:
    """WRES indicators 5 to 8 for each question that declares one, through disclosure control.

    Indicators 5, 6 and 8 are the percentage giving an unfavourable answer (experienced it);
    7 is the percentage giving a favourable one. "Prefer not to say" and missing ethnicity are
    on neither side. Intervals are Wilson 95%; the ratio (Global majority / White) has a 95%
    interval by the log method. Shown counts may be rounded if the policy rounds; percentages
    come from the counts disclosure control released.
    """
    definition = definition_of(survey, settings)
    out = []
    for q in definition.questions:
        if q.wres is None or q.is_text:
            continue
        [result] = question_results(db, survey=survey, settings=settings, by=["ethnic_group"],
                                    where={}, question_ids=[q.id], wave_label=wave_label)
        white = _side(result.release, "white", q)
        majority = _side(result.release, "global-majority", q)
        ratio = None
        if white.total and majority.total and white.hits is not None \
                and majority.hits is not None:
            ratio = ratio_interval(majority.hits, majority.total, white.hits, white.total)
        out.append(WresIndicator(q.wres, WRES_TITLES[q.wres], q, white, majority, ratio))
    return out


def results_payload(survey_slug: str, answered: list[QuestionResult],
                    k: int) -> dict[str, object]:
    """The JSON document of ``survey results`` (a stable contract)."""
    first = answered[0].release if answered else None
    return {
        "survey": survey_slug, "k": k,
        "by": list(first.by) if first else [], "where": dict(first.where) if first else {},
        "round_to": first.round_to if first else None,
        "cells": [
            {"group": dict(cell.group), "question": r.question.id, "n": cell.n,
             "suppressed": cell.suppressed, "reason": cell.reason,
             "counts": dict(cell.counts) if cell.counts is not None else None,
             "favourable_pct": (round(cell.favourable_pct, 1)
                                if cell.favourable_pct is not None else None)}
            for r in answered for cell in r.release.cells
        ],
    }


# Why a figure is hidden, in plain words (pages, charts and the CSV use the same ones).
HIDDEN_WHY = {
    "below k": "Hidden: fewer than {k} people in this group answered",
    "differencing": "Hidden so that a smaller group cannot be worked out",
    "complementary": "Hidden so that another hidden group cannot be worked out",
    "same answer": "Hidden: everyone in this group gave the same answer",
}
CSV_BOM = "\ufeff"  # so that Excel reads the file as UTF-8


class ResultLabels(Protocol):
    """Words for a survey's dimensions, values and answers (`equality.charts.Labels`)."""

    def dimension(self, dim: str) -> str: ...

    def value(self, dim: str, value: str) -> str: ...

    def answer(self, question: Question, option: str) -> str: ...


def results_csv(answered: Sequence[QuestionResult], labels: ResultLabels, k: int) -> str:
    """The released tables as a spreadsheet a board secretary can read: one row per group of
    each question, in plain words (question text, group and answer labels, never codes).

    Columns: Question, Wave, the filter (Directorate) if any, one column per breakdown
    ("All" on a margin), Respondents, Figures hidden (No / Yes / Answers only), Why hidden,
    Favourable answers (%), then one column per answer, in each question's own scale order
    (questions that share a scale share its columns). A row with "Figures hidden: No" has every
    value and no reason; a hidden figure is blank, never a number. Starts with a UTF-8 byte
    order mark so that Excel shows accents and dashes as they are.
    """
    first = answered[0].release if answered else None
    by = [d for d in (first.by if first else ()) if d != WAVE]
    where = [d for d in (first.where if first else {}) if d != WAVE]
    answers: dict[str, None] = {}
    for r in answered:
        for option in r.question.option_ids:
            answers.setdefault(labels.answer(r.question, option), None)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Question", "Wave", *(labels.dimension(d) for d in where),
                     *(labels.dimension(d) for d in by), "Respondents", "Figures hidden",
                     "Why hidden", "Favourable answers (%)", *answers])
    for r in answered:
        release_ = r.release
        for cell in release_.cells:
            if WAVE in release_.where:
                wave = release_.where[WAVE]
            else:
                wave = cell.group.get(WAVE) or "All waves together"
            hidden = "Yes" if cell.suppressed else "Answers only" if (
                cell.n and cell.counts is None) else "No"
            counts = {labels.answer(r.question, o): c for o, c in (cell.counts or {}).items()}
            writer.writerow([
                r.question.text, wave,
                *(labels.value(d, release_.where[d]) for d in where),
                *(labels.value(d, cell.group[d]) if d in cell.group else "All" for d in by),
                "" if cell.n is None else cell.n, hidden,
                HIDDEN_WHY.get(cell.reason or "", "Hidden to protect a small group").format(k=k)
                if hidden != "No" else "",
                "" if cell.favourable_pct is None or not r.question.favourable
                else round(cell.favourable_pct, 1),
                *(counts.get(a, "") for a in answers)])
    return CSV_BOM + out.getvalue()
