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

from analysis.disclosure import Cell, Policy, Population, Release, count_text, release, why_text
from analysis.statistics import RatioEstimate, ratio_interval, wilson_interval
from config.settings import Settings
from config.vocabulary import ETHNICITY_BROAD, broad_ethnic_group
from core import release_store
from surveys import services
from surveys.definition import Question, SurveyDefinition
from surveys.models import DEMOGRAPHIC_COLUMNS, Survey, SurveyWave
from surveys.services import SurveyError, definition_of

WAVE = "wave"
# Ethnicity is analysed by the five ONS high-level groups (the 19 stored categories are
# coarsened: almost all would be below k) and as White / Global majority, a grouping of them
# (the WRES comparison). Ethnicity is the hub of the query space: a two-way table must include
# it (see analysis.disclosure: the audit stays exact and fast, and EDI compares ethnic groups).
BREAKDOWN_COLUMNS = tuple(c for c in DEMOGRAPHIC_COLUMNS if c != "ethnicity")
DIMENSIONS = (WAVE, "ethnicity", *BREAKDOWN_COLUMNS)
ETHNIC_GROUPING = ("ethnic_group", "ethnicity", tuple(
    (code, "white" if code == "white" else "global-majority") for code, _ in ETHNICITY_BROAD))
DIMENSION_LABELS = {
    WAVE: "Wave", "ethnicity": "Ethnic group (ONS)", "ethnic_group": "White / Global majority",
    "band": "Pay band", "staff_group": "Staff group", "directorate": "Directorate",
    "internationally_educated": "Educated outside the UK", "disability": "Disability",
    "sex": "Sex", "gender_identity": "Gender identity same as sex at birth", "age_band": "Age",
}


class ResultsError(SurveyError):
    """A results query that cannot be answered; the message says why."""


def policy(settings: Settings) -> Policy:
    return Policy(k=settings.min_cell_size, hub="ethnicity", groupings=(ETHNIC_GROUPING,),
                  wave_dim=WAVE)


def categories(definition: SurveyDefinition) -> dict[str, list[str]]:
    """Every value a breakdown lists, whether or not anyone has it (so that an empty group looks
    like a small one)."""
    found: dict[str, list[str]] = {"ethnicity": [code for code, _ in ETHNICITY_BROAD]}
    for d in definition.demographics:
        if d.id in BREAKDOWN_COLUMNS:
            found[d.id] = [value for value, _ in d.options]
    return found


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
            groups = (w.label, broad_ethnic_group(d.get("ethnicity")),
                      *(d.get(c) for c in BREAKDOWN_COLUMNS))
            for answer in chosen:
                tally[(*groups, answer)] += 1
    atoms = [(*values, count) for values, count in tally.items()]
    built = Population.from_counts(atoms, DIMENSIONS,
                                   categories(definition_of(survey, settings)))
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


def _kept(db: Session, settings: Settings, pop: Population, subject: str,
          waves: Sequence[str]) -> None:
    """Use (or decide and keep) the audited release of each wave: decided once per closed wave,
    the same after a restart and on every server (`core.release_store`)."""
    for wave in waves:
        if WAVE in pop.dimensions and wave in pop.values(WAVE):
            release_store.decide(db, settings, subject=subject, population=pop,
                                 policy=policy(settings), wave=wave)


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    release: Release


def _check_dims(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in DIMENSIONS and n != "ethnic_group"]
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
    released wave). Two things at once (two breakdowns, or a breakdown and a filter) must
    include an ethnic group (the query space of `analysis.disclosure`).
    """
    definition = definition_of(survey, settings)
    _check_dims([*by, *where])
    if len(by) > 2:
        raise ResultsError("break down by at most two dimensions")
    fixed = dict(where)
    if WAVE not in by and WAVE not in fixed:
        waves = released_waves(survey)
        if not waves:
            raise ResultsError("No wave of this survey has closed yet: results appear when a "
                               "wave closes.")
        fixed[WAVE] = wave_label or waves[-1].label
    questions = _questions(definition, question_ids)
    waves = [fixed[WAVE]] if WAVE in fixed else [w.label for w in released_waves(survey)]
    out = []
    for q in questions:
        pop = population(db, survey=survey, question=q, settings=settings)
        _kept(db, settings, pop, f"survey:{survey.id}:question:{q.id}", waves)
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

    n: int | None  # respondents as shown (None: not shown exactly)
    n_text: str  # respondents in words: "37", "between 40 and 49", "fewer than 11", "no answers"
    reason: str | None  # why a figure is hidden, in plain words
    total: int | None  # respondents behind the percentage (None: hidden; 0: nobody answered)
    hits: int | None  # respondents counted by the indicator (None: hidden)
    percent: float | None
    interval: tuple[float, float] | None  # 95% Wilson, in percent


@dataclass(frozen=True)
class WresIndicator:
    """A WRES staff-survey indicator: White and Global majority staff compared."""

    number: int
    title: str
    questions: tuple[Question, ...]
    white: WresSide
    global_majority: WresSide
    ratio: RatioEstimate | None  # Global majority % / White %, when both sides are shown

    @property
    def question(self) -> Question:
        return self.questions[0]


WRES_TITLES = {
    5: "Experienced harassment, bullying or abuse from patients, relatives or the public",
    6: "Experienced harassment, bullying or abuse from managers or other colleagues",
    7: "Believe the organisation provides equal opportunities for career progression",
    8: "Experienced discrimination from a manager, team leader or colleague",
}
YES, NO = "yes", "no"


def _side(cell: Cell, k: int, answered: int) -> WresSide:
    if not answered:  # nobody in the wave answered: nothing about anyone to protect
        return WresSide(0, "no answers", None, 0, None, None, None)
    text = count_text(cell, k)
    if cell.counts is None or cell.n is None:
        return WresSide(cell.n, text, why_text(cell, k) or None, None, None, None, None)
    hits = cell.counts.get(YES, 0)
    if not cell.n:
        return WresSide(0, text, None, 0, 0, None, None)
    low, high = wilson_interval(hits, cell.n)
    return WresSide(cell.n, text, None, cell.n, hits, 100 * hits / cell.n, (100 * low, 100 * high))


def _indicator_population(db: Session, *, survey: Survey, questions: Sequence[Question],
                          settings: Settings) -> Population:
    """One record per respondent who answered any of ``questions``: "yes" if any answer counts
    for the indicator (unfavourable for 5, 6 and 8, favourable for 7). Indicator 6 is one figure
    per person: harassment from managers or from other colleagues."""
    waves = released_waves(survey)
    tally: Counter[tuple[str | None, ...]] = Counter()
    for w in waves:
        for response in services.wave_responses(db, wave_=w, settings=settings):
            hit = None
            for q in questions:
                for chosen in response.answers.get(q.id) or ():
                    counted = chosen in q.favourable if q.wres == 7 else chosen not in q.favourable
                    hit = YES if counted or hit == YES else NO
            if hit is None:
                continue
            d = response.demographics
            tally[(w.label, broad_ethnic_group(d.get("ethnicity")),
                   *(d.get(c) for c in BREAKDOWN_COLUMNS), hit)] += 1
    return Population.from_counts([(*values, n) for values, n in tally.items()], DIMENSIONS,
                                  categories(definition_of(survey, settings)))


def wres_indicators(db: Session, *, survey: Survey, settings: Settings,
                    wave_label: str | None = None) -> list[WresIndicator]:
    """WRES indicators 5 to 8 from the questions that declare one, through disclosure control.

    Indicators 5, 6 and 8 are the percentage who experienced it (an unfavourable answer); 7 the
    percentage giving a favourable one; indicator 6 counts a person once if either of its
    questions (managers, other colleagues) says so. "Prefer not to say" and missing ethnicity
    are on neither side, but they are a group of the release like any other (not known = total
    - White - Global majority), so the audit covers them. Intervals are Wilson 95%; the ratio
    (Global majority / White) has a 95% interval by the log method.
    """
    definition = definition_of(survey, settings)
    waves = released_waves(survey)
    if not waves:
        return []
    wave = wave_label or waves[-1].label
    grouped: dict[int, list[Question]] = {}
    for q in definition.questions:
        if q.wres is not None and not q.is_text:
            grouped.setdefault(q.wres, []).append(q)
    out = []
    for number in sorted(grouped):
        pop = _indicator_population(db, survey=survey, questions=grouped[number],
                                    settings=settings)
        answered = int(WAVE in pop.dimensions and wave in pop.values(WAVE))  # anyone at all
        _kept(db, settings, pop, f"survey:{survey.id}:wres:{number}", [wave])
        table = release(pop, by=["ethnic_group"], where={WAVE: wave}, policy=policy(settings),
                        options=[YES, NO], favourable=[YES])
        white = _side(table.cell({"ethnic_group": "white"}), settings.min_cell_size, answered)
        majority = _side(table.cell({"ethnic_group": "global-majority"}),
                         settings.min_cell_size, answered)
        ratio = None
        if white.total and majority.total and white.hits is not None \
                and majority.hits is not None:
            ratio = ratio_interval(majority.hits, majority.total, white.hits, white.total)
        out.append(WresIndicator(number, WRES_TITLES[number], tuple(grouped[number]), white,
                                 majority, ratio))
    return out


def results_payload(survey_slug: str, answered: list[QuestionResult],
                    k: int) -> dict[str, object]:
    """The JSON document of ``survey results`` (a stable contract)."""
    first = answered[0].release if answered else None
    return {
        "survey": survey_slug, "k": k,
        "by": list(first.by) if first else [], "where": dict(first.where) if first else {},
        "cells": [
            {"group": dict(cell.group), "question": r.question.id, "n": cell.n,
             "low": cell.low, "high": cell.high, "shown_as": count_text(cell, k),
             "suppressed": cell.suppressed, "reason": cell.reason,
             "why": why_text(cell, k) or None,
             "counts": dict(cell.counts) if cell.counts is not None else None,
             "favourable_pct": (round(cell.favourable_pct, 1)
                                if cell.favourable_pct is not None else None)}
            for r in answered for cell in r.release.cells
        ],
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
                count_text(cell, k), hidden,
                (why_text(cell, k) or "Not shown, to protect a small group.")
                if hidden != "No" else "",
                "" if cell.favourable_pct is None or not r.question.favourable
                else round(cell.favourable_pct, 1),
                *(counts.get(a, "") for a in answers)])
    return CSV_BOM + out.getvalue()
