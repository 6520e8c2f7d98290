"""Themed summaries for EDI leads: theme counts and trends, tone, emerging phrases and quotes.

Survey comments carry theme ids and a tone from ingest (`surveys.services._store_response`);
concerns carry `ConcernTheme` rows (a theme counts unless a guardian removed it) and a tone.

Figures
-------
Every figure shown goes through `analysis.disclosure.release`. Each theme has its own
`Population` per source whose records are the concerns (or survey respondents) that mention
the theme, so a group's n *is* the count shown and rules 1 to 3 protect it: three concerns
about one theme from one site in one quarter never show, directly or as a total minus the
shown cells. Each record's answer is its tone bucket, so the same releases give each theme's
tone distribution (hidden by rule 4 when a group is all one bucket).

Concerns: the dimensions are the quarter (NHS financial year; the policy's ``wave_dim``), the
month, nested in its quarter (one population for both grains, so a month cannot be worked out
as its quarter minus the other two months), site, professional group and White / Global
majority group. Only concerns received before the current quarter count: a quarter still
filling up would change with each new concern and so show when one arrived. Surveys: the
dimensions and policy of `surveys.results`, released waves only, one record per respondent
(someone who mentions a theme in two comments counts once, with the mean tone of the two).

Nothing pooled over periods is shown: a total over all quarters changes every quarter, and two
such totals taken at different times would give the newest quarter's figures unprotected.

A survey's theme counts come with their denominator, the people who wrote any comment in the
wave (total and per column), released from a population of its own like each theme's. It adds
no new kind of disclosure: a group's respondents are on the results page already. Themes are
listed most mentioned first, then those whose count is hidden (in taxonomy order: the order
must not rank hidden figures), then those nobody mentioned.

Kept summaries
--------------
`cached_concern_summary` and `cached_survey_summary` make each summary once and keep it sealed
to the analysis key (`equality.summary_cache`); the key of a kept summary names the period and
everything the figures depend on, and a guardian's theme correction forgets the concerns'
(`speakup.analytics`). Issue 12 asked for a summary computed once per closed quarter: a closed
quarter's figures still change when the next quarter ends (disclosure decisions are made over
every ended quarter together), so "once" is once per set of ended quarters and view.

Free text
---------
A phrase is shown only if it is used in at least k (``settings.min_cell_size``) different
comments of one question, or k different concerns, and never with a count. Quotes: at most
three per theme and period, by highest theme score, redacted, from concerns only with the
reporter's consent. A comment or concern is quoted only if its theme's group in the period has
at least ``settings.comment_threshold`` members, and so has its group in every breakdown the
page offers: the quotes are then the same whichever breakdown is chosen, so comparing views
cannot tie a quote to a small group. Quotes are never labelled with a group.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.disclosure import UNKNOWN, Cell, Policy, Population, release
from analysis.themes.emerging import emerging_phrases
from analysis.themes.engine import ThemeEngine
from analysis.themes.redaction import redact
from analysis.themes.taxonomy import Theme
from config.settings import Settings
from config.vocabulary import broad_ethnic_group, wres_group
from core.db import today as utc_today
from core.encryption import DecryptionError
from core.themes import engine as theme_engine
from equality import summary_cache
from equality.charts import ETHNIC_GROUPS, UNKNOWN_LABEL, Labels
from speakup import analytics
from speakup.analytics import month_of, quarter_of
from speakup.models import ThemeModel as StoredModel
from surveys import results, services
from surveys.models import Survey, SurveyWave
from surveys.services import Comment, SurveyError, definition_of

log = logging.getLogger(__name__)

CONCERNS: Final = "concerns"
QUARTER: Final = "quarter"
MONTH: Final = "month"
GRAINS: Final = (QUARTER, MONTH)
CONCERN_BREAKDOWNS: Final = ("site", "professional_group", "ethnic_group")
CONCERN_DIMENSIONS: Final = (QUARTER, MONTH, *CONCERN_BREAKDOWNS)
CONCERN_DIMENSION_LABELS: Final = {
    QUARTER: "Quarter", MONTH: "Month", "site": "Site",
    "professional_group": "Professional group", "ethnic_group": "White / Global majority",
}
# Tone buckets (VADER compound score); "unscored": a record without a tone (e.g. a theme a
# guardian added to a concern received before tone was recorded).
NEGATIVE_BELOW: Final = -0.05
POSITIVE_ABOVE: Final = 0.05
TONES: Final = (("negative", "Negative"), ("neutral", "Neutral"), ("positive", "Positive"),
                ("unscored", "Tone not known"))
QUOTES_PER_THEME: Final = 3
COMMENTED: Final = "People who wrote a comment"  # a survey's denominator, in tables and CSV
QUOTE_CHARS: Final = 400
PHRASES: Final = 15
TREND_PERIODS: Final = {QUARTER: 8, MONTH: 12}
_MONTH_NAMES: Final = ("January", "February", "March", "April", "May", "June", "July", "August",
                       "September", "October", "November", "December")


class ThemeSummaryError(SurveyError):
    """A summary that cannot be made as asked; the message says why."""


class NothingToSummariseError(ThemeSummaryError):
    """No complete quarter of concerns, or no closed wave of the survey, yet."""


def tone_bucket(tone: float | None) -> str:
    """The tone bucket of a score in [-1, 1]: negative below -0.05, positive above 0.05."""
    if tone is None:
        return "unscored"
    if tone < NEGATIVE_BELOW:
        return "negative"
    return "positive" if tone > POSITIVE_ABOVE else "neutral"


# --- periods ----------------------------------------------------------------------------------


def quarter_start(day: date) -> date:
    """The first day of ``day``'s NHS financial-year quarter."""
    offset = (day.month - 4) % 12 // 3 * 3  # months since April at the quarter's start
    month = (offset + 3) % 12 + 1
    year = (day.year if day.month >= 4 else day.year - 1) + (month < 4)
    return date(year, month, 1)


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _quarter_months(label: str) -> list[str]:
    """The three months of a quarter label, oldest first."""
    start, q = int(label[:4]), int(label[-1])
    first = add_months(date(start, 4, 1), 3 * (q - 1))
    return [month_of(add_months(first, i)) for i in range(3)]


def period_label(grain: str, value: str) -> str:
    """How a period reads on the page: ``2026/27 Q3``, ``November 2026``, or the wave."""
    if grain == MONTH:
        return f"{_MONTH_NAMES[int(value[5:]) - 1]} {value[:4]}"
    return value


# --- populations ------------------------------------------------------------------------------

_CACHE_SIZE = 256
_populations: OrderedDict[tuple[object, ...], Population] = OrderedDict()
_cache_lock = threading.Lock()


def _population(tally: Mapping[tuple[tuple[str, ...], str], int],
                dimensions: Sequence[str]) -> Population:
    """The population of these atoms, cached by the atoms themselves (so never stale), which
    keeps disclosure decisions memoised from one request to the next."""
    rows = sorted((*values, answer, count) for (values, answer), count in tally.items())
    key = (tuple(dimensions), tuple(rows))
    with _cache_lock:
        found = _populations.get(key)
        if found is not None:
            _populations.move_to_end(key)
            return found
    built = Population.from_counts(rows, dimensions)
    with _cache_lock:
        _populations[key] = built
        while len(_populations) > _CACHE_SIZE:
            _populations.popitem(last=False)
    return built


def _value(raw: str | None) -> str:
    return UNKNOWN if raw is None or raw == "prefer-not" else str(raw)


def concern_policy(settings: Settings) -> Policy:
    """k from the settings; each quarter is decided on its own; the month is the hub, so a
    table may cross the month with one group (site, professional group or ethnic group)."""
    return Policy(k=settings.min_cell_size, hub=MONTH, wave_dim=QUARTER)


# --- what a summary holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of the tables: ``value`` "" is everyone (the period's total)."""

    value: str
    label: str


@dataclass(frozen=True)
class PeriodRow:
    """One period of a theme's trend: the released cells, the total first, then one per column."""

    period: str
    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class ThemeSection:
    """One theme: its released figures for the chosen period (``current``: total, then one per
    breakdown column), its trend, its tone (the period's total cell, counts by tone bucket) and
    up to three quotes."""

    theme: Theme
    current: tuple[Cell, ...]
    trend: tuple[PeriodRow, ...]
    quotes: tuple[str, ...]

    @property
    def tone(self) -> Cell:
        return self.current[0]

    @property
    def mentioned(self) -> bool:
        """Whether any released cell of the theme is non-zero or hidden (hidden cells are
        never empty)."""
        return any(c.n != 0 for c in (*self.current, *(c for r in self.trend for c in r.cells)))


@dataclass(frozen=True)
class ThemeSummary:
    """A themed summary of one source (concerns, or one survey) for one period.

    ``period`` is the quarter or wave the counts, tone, phrases and quotes are for; ``grain``
    (quarter, month or wave) is the trend's. ``unit`` is what a count counts.
    """

    source: str
    title: str
    unit: str
    k: int
    comment_threshold: int
    grain: str
    period: str
    period_text: str
    breakdown: str | None
    breakdown_label: str | None
    columns: tuple[Column, ...]
    tones: tuple[tuple[str, str], ...]
    sections: tuple[ThemeSection, ...]
    phrases: tuple[str, ...]
    # Surveys: the people who wrote any comment in the period (total, then one per column),
    # each released by disclosure control; None for concerns.
    commented: tuple[Cell, ...] | None = None


def _themes(engine: ThemeEngine) -> tuple[Theme, ...]:
    return engine.taxonomy.themes


def _tone_options(tallies: Iterable[Mapping[tuple[tuple[str, ...], str], int]]) -> (
    tuple[tuple[str, str], ...]
):
    """The tone buckets, with "not known" only when some record has no tone."""
    unscored = any(answer == "unscored" for tally in tallies for _, answer in tally)
    return TONES if unscored else TONES[:3]


def _cells(population: Population, *, where: Mapping[str, str], by: str | None,
           columns: Sequence[Column], policy: Policy, options: Sequence[str]) -> tuple[Cell, ...]:
    """The total of ``where`` and one cell per column, every one from `release`.

    A column value the population lacks is asked for as a filter, so that it too comes from
    `release` (as an empty group)."""
    table = release(population, by=[by] if by else [], where=where, policy=policy,
                    options=options, favourable=())
    found = {c.group.get(by or "", ""): c for c in table.cells}
    out = [table.cell({})]
    for column in columns:
        cell = found.get(column.value)
        if cell is None:
            assert by is not None  # noqa: S101 - columns exist only with a breakdown
            empty = release(population, by=[], where={**where, by: column.value}, policy=policy,
                            options=options, favourable=())
            cell = Cell({by: column.value}, *_fields(empty.cell({})))
        out.append(cell)
    return tuple(out)


def _fields(cell: Cell) -> tuple[object, ...]:
    return (cell.n, cell.suppressed, cell.reason, cell.counts, cell.favourable_pct, cell.low,
            cell.high)


def _by_count(sections: Sequence[ThemeSection]) -> tuple[ThemeSection, ...]:
    """Most mentioned first (by the period's released total), then the themes whose total is
    hidden (never empty, see `analysis.disclosure`) in taxonomy order, so the order says
    nothing about a hidden figure, then the themes nobody mentioned."""
    def rank(section: ThemeSection) -> tuple[int, int]:
        n = section.current[0].n
        return (1, 0) if n is None else (2, 0) if n == 0 else (0, -n)
    return tuple(sorted(sections, key=rank))


def _quote_text(text: str) -> str:
    """Redacted, on one line, and cut at a word near ``QUOTE_CHARS``."""
    clean = " ".join(redact(text).split())
    if len(clean) <= QUOTE_CHARS:
        return clean
    cut = clean[:QUOTE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def _phrases(documents: Iterable[Sequence[tuple[str, str]]], engine: ThemeEngine,
             k: int) -> tuple[str, ...]:
    """Distinctive phrases used in at least k documents of one set (their counts are not
    returned). The engine's ``min_comments`` asks for k already; the filter keeps that true
    whatever the engine's defaults become."""
    found: dict[str, float] = {}
    for docs in documents:
        if len(docs) < k:
            continue
        phrases = [p for p in emerging_phrases(docs, matcher=engine.matcher, min_comments=k,
                                               top=PHRASES) if p.comments >= k]
        words = [engine.matcher.analyse(text).words for _, text in docs]
        for phrase in _joined([p.phrase for p in phrases], words, k):
            keyness = max((p.keyness for p in phrases if p.phrase in phrase), default=0.0)
            found[phrase] = max(found.get(phrase, 0.0), keyness)
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return tuple(phrase for phrase, _ in ranked[:PHRASES])


def _documents_with(gram: tuple[str, ...], documents: Sequence[Sequence[str]]) -> int:
    size = len(gram)
    return sum(1 for words in documents
               if any(tuple(words[i:i + size]) == gram for i in range(len(words) - size + 1)))


def _joined(phrases: Sequence[str], documents: Sequence[Sequence[str]], k: int) -> list[str]:
    """Overlapping phrases joined into the longer phrase they are parts of ("broken car park"
    and "car park barrier" into "broken car park barrier"), in rank order. Two are joined only
    if the joined phrase is itself in at least k documents and in nearly as many as the rarer
    part (the engine's own rule for dropping a part of a longer phrase); a phrase inside a
    longer one found in nearly as many documents is then left out."""
    grams = [tuple(p.split()) for p in phrases]
    counts = {g: _documents_with(g, documents) for g in grams}
    changed = True
    while changed:
        changed = False
        for a, b in ((a, b) for a in grams for b in grams if a != b):
            overlap = next((j for j in range(min(len(a), len(b)) - 1, 0, -1) if a[-j:] == b[:j]), 0)
            if not overlap:
                continue
            joined = a + b[overlap:]
            count = _documents_with(joined, documents)
            if count >= k and count >= 0.8 * min(counts[a], counts[b]):
                at = min(grams.index(a), grams.index(b))
                grams = [g for g in grams if g not in (a, b)]
                grams.insert(at, joined)
                counts[joined] = count
                changed = True
                break
    kept = [" ".join(g) for g in grams]
    return [p for p, g in zip(kept, grams, strict=True)
            if not any(f" {p} " in f" {longer} " and counts[h] >= 0.8 * counts[g]
                       for longer, h in zip(kept, grams, strict=True) if longer != p)]


# --- concerns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ConcernRecord:
    key: str  # the fact's position in this computation: nothing that identifies a concern
    quarter: str
    month: str
    groups: tuple[str, ...]  # site, professional group, ethnic group
    tone: str
    themes: Mapping[str, float]
    quote: str | None


def _concern_records(facts: Sequence[analytics.Facts], before: date) -> list[_ConcernRecord]:
    cutoff = month_of(before)
    return [_ConcernRecord(str(i), f.quarter, f.month,
                           (_value(f.site), _value(f.professional_group),
                            _value(wres_group(f.ethnicity))),
                           tone_bucket(f.tone), f.themes, f.quote)
            for i, f in enumerate(facts) if f.month < cutoff]


def concern_quarters(facts: Sequence[analytics.Facts], *, on: date | None = None) -> list[str]:
    """Every complete quarter from the first concern's to the last one before ``on``'s
    (default today), oldest first; empty if no concern was received before this quarter."""
    before = quarter_start(on or utc_today())
    months = sorted(f.month for f in facts if f.month < month_of(before))
    if not months:
        return []
    year, month = (int(x) for x in months[0].split("-"))
    out = []
    start = quarter_start(date(year, month, 1))
    while start < before:
        out.append(quarter_of(start))
        start = add_months(start, 3)
    return out


def concern_value_label(settings: Settings, dim: str, value: str) -> str:
    if value == UNKNOWN:
        return UNKNOWN_LABEL
    options: Mapping[str, str] = {
        "site": dict(settings.organisation.sites),
        "professional_group": dict(settings.organisation.professional_groups),
        "ethnic_group": ETHNIC_GROUPS,
    }.get(dim, {})
    return options.get(value, value)


def _concern_order(settings: Settings, dim: str, values: Iterable[str]) -> list[str]:
    known = [v for v, _ in {"site": settings.organisation.sites,
                            "professional_group": settings.organisation.professional_groups,
                            "ethnic_group": tuple(ETHNIC_GROUPS.items())}[dim]]
    position = {v: i for i, v in enumerate(known)}
    return sorted(set(values), key=lambda v: (v == UNKNOWN, position.get(v, len(known)), v))


def concern_summary(db: Session, *, settings: Settings, facts: Sequence[analytics.Facts],
                    grain: str = QUARTER, by: str | None = None, quarter: str | None = None,
                    on: date | None = None) -> ThemeSummary:
    """Themes of concerns for one complete quarter (default: the latest), with a trend by
    ``grain`` (quarter or month) and an optional breakdown by site, professional group or
    White / Global majority group. ``on``: today, for tests.

    Made from ``facts``, the unlinkable equality record (`speakup.analytics.current_facts`,
    opened in an EDI lead's session), never from the cases.

    Raises NothingToSummariseError before the first complete quarter, and ThemeSummaryError
    for an unknown grain, breakdown or quarter.
    """
    if grain not in GRAINS:
        raise ThemeSummaryError("Choose quarters or months for the trend.")
    if by is not None and by not in CONCERN_BREAKDOWNS:
        raise ThemeSummaryError("Concerns can be broken down by site, professional group or "
                                "White / Global majority group only.")
    quarters = concern_quarters(facts, on=on)
    if not quarters:
        raise NothingToSummariseError(
            "There are no figures yet: a quarter's concerns are summarised once the quarter "
            "has ended, so that the figures do not change as each concern arrives.")
    chosen = quarter or quarters[-1]
    if chosen not in quarters:
        raise ThemeSummaryError("Choose a quarter from the list: only quarters that have "
                                "ended are summarised.")
    before = quarter_start(on or utc_today())
    records = _concern_records(facts, before)
    engine = theme_engine(db, settings)
    themes = _themes(engine)
    mentions: dict[str, list[tuple[_ConcernRecord, float]]] = defaultdict(list)
    for r in records:
        for theme_id, score in r.themes.items():
            mentions[theme_id].append((r, score))

    tallies = {}
    for theme in themes:
        tally: Counter[tuple[tuple[str, ...], str]] = Counter(
            ((r.quarter, r.month, *r.groups), r.tone) for r, _ in mentions[theme.id])
        tallies[theme.id] = tally
    populations = {t: _population(tally, CONCERN_DIMENSIONS) for t, tally in tallies.items()}
    tones = _tone_options(tallies.values())
    options = [t for t, _ in tones]
    policy = concern_policy(settings)

    columns: tuple[Column, ...] = ()
    if by:
        present = {v for p in populations.values() for v in p.values(by)}
        columns = tuple(Column(v, concern_value_label(settings, by, v))
                        for v in _concern_order(settings, by, present))
    end = quarters.index(chosen) + 1
    if grain == QUARTER:
        periods = [(q, {QUARTER: q}) for q in quarters[max(0, end - TREND_PERIODS[QUARTER]):end]]
    else:
        months = [(m, q) for q in quarters[:end] for m in _quarter_months(q)]
        first_month = min(r.month for r in records)
        months = [(m, q) for m, q in months if m >= first_month][-TREND_PERIODS[MONTH]:]
        periods = [(m, {QUARTER: q, MONTH: m}) for m, q in months]

    extracts = {r.key: r.quote for r in records if r.quarter == chosen and r.quote}
    sections = []
    for theme in themes:
        population = populations[theme.id]
        current = _cells(population, where={QUARTER: chosen}, by=by, columns=columns,
                         policy=policy, options=options)
        trend = tuple(
            PeriodRow(value, period_label(grain, value),
                      _cells(population, where=where, by=by, columns=columns, policy=policy,
                             options=options))
            for value, where in periods)
        in_quarter = [m for m in mentions[theme.id] if m[0].quarter == chosen]
        sections.append(ThemeSection(theme, current, trend,
                                     _concern_quotes(in_quarter, settings)))
    phrases = _phrases([list(extracts.items())], engine, settings.min_cell_size)
    return ThemeSummary(
        source=CONCERNS, title="Concerns raised with guardians", unit="concerns",
        k=settings.min_cell_size, comment_threshold=settings.comment_threshold, grain=grain,
        period=chosen, period_text=f"quarter {chosen}", breakdown=by,
        breakdown_label=CONCERN_DIMENSION_LABELS[by] if by else None, columns=columns,
        tones=tones, sections=_by_count(sections), phrases=phrases)


def _eligible(members: Sequence[tuple[str, tuple[str, ...]]], threshold: int) -> set[str]:
    """Ids (of ``(id, groups)``) whose theme group, and whose group in each breakdown, has at
    least ``threshold`` members."""
    if not members or len(members) < threshold:
        return set()
    sizes = [Counter(groups[i] for _, groups in members) for i in range(len(members[0][1]))]
    return {member for member, groups in members
            if all(sizes[i][value] >= threshold for i, value in enumerate(groups))}



def _pick(candidates: Iterable[tuple[tuple[float, ...], str]]) -> tuple[str, ...]:
    """The first three distinct texts by rank (rank ties broken by the text's digest)."""
    chosen: list[str] = []
    for _, text in sorted(candidates, key=lambda c: (c[0], hashlib.sha256(c[1].encode()).digest())):
        if text and text not in chosen:
            chosen.append(text)
        if len(chosen) == QUOTES_PER_THEME:
            break
    return tuple(chosen)


def _concern_quotes(mentions: Sequence[tuple[_ConcernRecord, float]],
                    settings: Settings) -> tuple[str, ...]:
    """Up to three consented extracts of one theme's concerns in one quarter (see the module),
    by the engine's score (a theme a guardian added has score 0)."""
    eligible = _eligible([(r.key, r.groups) for r, _ in mentions], settings.comment_threshold)
    return _pick(((-score,), _quote_text(r.quote))
                 for r, score in mentions if r.key in eligible and r.quote)


# --- surveys ----------------------------------------------------------------------------------


def survey_breakdowns(survey: Survey, settings: Settings) -> list[str]:
    """The dimensions a survey's themes can be broken down by (as on its results page)."""
    demographics = [d.id for d in definition_of(survey, settings).demographics]
    return [*(d for d in demographics if d in results.DIMENSIONS),
            *(["ethnic_group"] if "ethnicity" in demographics else [])]


@dataclass
class _Respondent:
    key: str
    wave: str
    values: tuple[str, ...]  # results.DIMENSIONS after the wave
    tones: dict[str, list[float]]  # theme -> tones of the comments mentioning it
    mentioned: set[str]
    comments: tuple[Comment, ...]


def _respondents(db: Session, waves: Sequence[SurveyWave], settings: Settings) -> list[_Respondent]:
    """Respondents of ``waves`` with at least one comment (``key``: their position in the
    wave's settled records, which is random); ``comments`` are their themed ones."""
    found = []
    for wave in waves:
        for i, response in enumerate(services.wave_responses(db, wave_=wave, settings=settings)):
            if not response.comments:
                continue
            themed = tuple(c for c in response.comments if c.themes)
            d = response.demographics
            person = _Respondent(
                f"{wave.id}:{i}", wave.label,
                (_value(broad_ethnic_group(d.get("ethnicity"))),
                 *(_value(d.get(c)) for c in results.BREAKDOWN_COLUMNS)), {}, set(), themed)
            for comment in themed:
                for theme in comment.themes:
                    person.mentioned.add(theme)
                    if comment.tone is not None:
                        person.tones.setdefault(theme, []).append(comment.tone)
            found.append(person)
    return found


def _mean_tone(tones: Sequence[float]) -> float | None:
    return sum(tones) / len(tones) if tones else None


def survey_summary(db: Session, *, settings: Settings, survey: Survey, by: str | None = None,
                   wave_label: str | None = None,
                   analysis_key: bytes | None = None) -> ThemeSummary:
    """Themes of one survey's comments in one released wave (default: the latest), with the
    trend across released waves and an optional breakdown (see `survey_breakdowns`).

    Comment texts are sealed to the analysis key: emerging phrases and quotes need
    ``analysis_key`` (an EDI lead's session); without it they are left out.

    Raises NothingToSummariseError before a wave has closed, and ThemeSummaryError for an
    unknown breakdown or wave.
    """
    definition = definition_of(survey, settings)
    offered = survey_breakdowns(survey, settings)
    if by is not None and by not in offered:
        raise ThemeSummaryError("Choose a breakdown of this survey from the list.")
    waves = results.released_waves(survey)
    if not waves:
        raise NothingToSummariseError("No wave of this survey has closed yet: its themes are "
                                      "summarised when a wave closes.")
    labels = [w.label for w in waves]
    chosen = wave_label or labels[-1]
    if chosen not in labels:
        raise ThemeSummaryError("Choose a wave of this survey from the list: only closed "
                                "waves are summarised.")
    wave = waves[labels.index(chosen)]
    respondents = _respondents(db, waves, settings)
    engine = theme_engine(db, settings)
    themes = _themes(engine)
    tallies = {}
    for theme in themes:
        tally: Counter[tuple[tuple[str, ...], str]] = Counter(
            ((p.wave, *p.values), tone_bucket(_mean_tone(p.tones.get(theme.id, []))))
            for p in respondents if theme.id in p.mentioned)
        tallies[theme.id] = tally
    populations = {t: _population(tally, results.DIMENSIONS) for t, tally in tallies.items()}
    tones = _tone_options(tallies.values())
    options = [t for t, _ in tones]
    policy = results.policy(settings)
    names = Labels(definition, tuple(labels))
    columns: tuple[Column, ...] = ()
    grouped = dict(results.ETHNIC_GROUPING[2])  # ethnic_group is a grouping of ethnicity

    def value_of(values: tuple[str, ...], dim: str) -> str:
        if dim == "ethnic_group":
            broad = values[0]
            return UNKNOWN if broad == UNKNOWN else grouped.get(broad, UNKNOWN)
        return values[results.DIMENSIONS.index(dim) - 1]

    if by:
        present = {value_of(p.values, by) for p in respondents}
        columns = tuple(Column(v, names.value(by, v)) for v in names.order(by, present))

    commenters = _population(Counter(((p.wave, *p.values), "commented") for p in respondents),
                             results.DIMENSIONS)
    commented = _cells(commenters, where={results.WAVE: chosen}, by=by, columns=columns,
                       policy=policy, options=["commented"])
    in_wave = [p for p in respondents if p.wave == chosen]
    sections = []
    for theme in themes:
        population = populations[theme.id]
        current = _cells(population, where={results.WAVE: chosen}, by=by, columns=columns,
                         policy=policy, options=options)
        trend = tuple(PeriodRow(w, w, _cells(population, where={results.WAVE: w}, by=by,
                                             columns=columns, policy=policy, options=options))
                      for w in labels)
        members = [(p.key, tuple(value_of(p.values, d) for d in offered))
                   for p in in_wave if theme.id in p.mentioned]
        eligible = _eligible(members, settings.comment_threshold)
        quoted = [c for p in in_wave if p.key in eligible for c in p.comments]
        sections.append(ThemeSection(theme, current, trend, () if analysis_key is None else
                                     _survey_quotes(theme.id, quoted, engine, analysis_key)))
    phrases: tuple[str, ...] | list[str] = ()
    if analysis_key is not None:
        responses = services.wave_responses(db, wave_=wave, settings=settings)
        texts = [[(str(i), services.comment_text(c, analysis_key))
                  for i, c in enumerate(c for r in responses for c in r.comments
                                        if c.question == q.id)]
                 for q in definition.questions if q.is_text]
        phrases = _phrases(texts, engine, settings.min_cell_size)
    return ThemeSummary(
        source=f"survey-{survey.id}", title=survey.title, unit="people",
        k=settings.min_cell_size, comment_threshold=settings.comment_threshold,
        grain=results.WAVE, period=chosen, period_text=f"wave {chosen}", breakdown=by,
        breakdown_label=results.DIMENSION_LABELS.get(by, by) if by else None, columns=columns,
        tones=tones, sections=_by_count(sections), phrases=tuple(phrases), commented=commented)


def _survey_quotes(theme: str, comments: Sequence[Comment], engine: ThemeEngine,
                   analysis_key: bytes) -> tuple[str, ...]:
    """Up to three redacted comments mentioning ``theme``, highest theme score first (scored
    again now: only theme ids are stored)."""
    candidates = []
    for comment in comments:
        if theme not in comment.themes:
            continue
        try:
            text = services.comment_text(comment, analysis_key)
        except (DecryptionError, UnicodeDecodeError):
            log.warning("a survey comment could not be opened; it is left out")
            continue
        score = next((h.score for h in engine.themes(text) if h.theme == theme), 0.0)
        candidates.append(((-score,), _quote_text(text)))
    return _pick(candidates)


# --- kept sealed once made (see `equality.summary_cache`) --------------------------------------

_CACHE_FORMAT: Final = 1


def _cell_json(cell: Cell) -> list[object]:
    return [cell.group, cell.n, cell.suppressed, cell.reason, cell.counts, cell.favourable_pct,
            cell.low, cell.high]


def _cell(data: Sequence[Any]) -> Cell:
    return Cell(dict(data[0]), data[1], data[2], data[3],
                None if data[4] is None else dict(data[4]), data[5], *data[6:8])


def summary_json(summary: ThemeSummary) -> bytes:
    """``summary`` as JSON (every field; cells as they were released)."""
    body = {name: getattr(summary, name) for name in (
        "source", "title", "unit", "k", "comment_threshold", "grain", "period", "period_text",
        "breakdown", "breakdown_label", "tones", "phrases")}
    body["columns"] = [[c.value, c.label] for c in summary.columns]
    body["commented"] = (None if summary.commented is None
                         else [_cell_json(c) for c in summary.commented])
    body["sections"] = [
        {"theme": [s.theme.id, s.theme.label, s.theme.description],
         "current": [_cell_json(c) for c in s.current],
         "trend": [[r.period, r.label, [_cell_json(c) for c in r.cells]] for r in s.trend],
         "quotes": list(s.quotes)} for s in summary.sections]
    return json.dumps(body, separators=(",", ":")).encode()


def summary_from_json(data: bytes) -> ThemeSummary:
    body = json.loads(data)
    return ThemeSummary(
        **{name: body[name] for name in (
            "source", "title", "unit", "k", "comment_threshold", "grain", "period",
            "period_text", "breakdown", "breakdown_label")},
        tones=tuple((t[0], t[1]) for t in body["tones"]), phrases=tuple(body["phrases"]),
        columns=tuple(Column(v, label) for v, label in body["columns"]),
        commented=None if body["commented"] is None else tuple(
            _cell(c) for c in body["commented"]),
        sections=tuple(ThemeSection(
            Theme(*s["theme"]), tuple(_cell(c) for c in s["current"]),
            tuple(PeriodRow(p, label, tuple(_cell(c) for c in cells))
                  for p, label, cells in s["trend"]),
            tuple(s["quotes"])) for s in body["sections"]))


def _fingerprint(db: Session, settings: Settings) -> list[object]:
    """What every summary depends on besides its data: settings, taxonomy and theme model."""
    engine = theme_engine(db, settings)
    newest = db.scalar(select(func.max(StoredModel.id)))
    return [_CACHE_FORMAT, settings.min_cell_size, settings.comment_threshold,
            settings.organisation.sites, settings.organisation.professional_groups, newest,
            [(t.id, t.label, t.description) for t in _themes(engine)]]


def cached_concern_quarters(db: Session, *, settings: Settings, analysis_key: bytes,
                            facts: Callable[[], Sequence[analytics.Facts]],
                            on: date | None = None,
                            fingerprint: list[object] | None = None) -> list[str]:
    """`concern_quarters`, kept sealed for as long as the current quarter lasts (``facts`` is
    called only when it is not kept yet)."""
    parts = ["concern-quarters", quarter_start(on or utc_today()).isoformat(),
             fingerprint or _fingerprint(db, settings)]
    found = summary_cache.load(db, parts=parts, analysis_private=analysis_key)
    if found is not None:
        return list(json.loads(found))
    quarters = concern_quarters(facts(), on=on)
    summary_cache.store(db, settings, source=summary_cache.CONCERNS, parts=parts,
                        payload=json.dumps(quarters).encode())
    return quarters


def cached_concern_summary(db: Session, *, settings: Settings, analysis_key: bytes,
                           facts: Callable[[], Sequence[analytics.Facts]],
                           grain: str = QUARTER, by: str | None = None,
                           quarter: str | None = None, on: date | None = None) -> ThemeSummary:
    """`concern_summary`, made once per closed quarter and view, then read back sealed.

    A kept summary is used only while the quarters that have ended are the same (a new quarter
    ending changes every figure's protection) and no concern's facts have changed in them
    (`speakup.analytics` forgets the kept summaries when a guardian corrects a theme).
    """
    fingerprint = _fingerprint(db, settings)
    quarters = cached_concern_quarters(db, settings=settings, analysis_key=analysis_key,
                                       facts=facts, on=on, fingerprint=fingerprint)
    chosen = quarter or (quarters[-1] if quarters else "")
    parts = ["concerns", quarter_start(on or utc_today()).isoformat(), chosen, grain, by or "",
             fingerprint]
    if quarters and chosen in quarters:
        found = summary_cache.load(db, parts=parts, analysis_private=analysis_key)
        if found is not None:
            return summary_from_json(found)
    summary = concern_summary(db, settings=settings, facts=facts(), grain=grain, by=by,
                              quarter=quarter, on=on)
    summary_cache.store(db, settings, source=summary_cache.CONCERNS, parts=parts,
                        payload=summary_json(summary))
    return summary


def cached_survey_summary(db: Session, *, settings: Settings, survey: Survey,
                          analysis_key: bytes, by: str | None = None,
                          wave_label: str | None = None) -> ThemeSummary:
    """`survey_summary`, made once per set of closed waves and view, then read back sealed
    (an import into a closed wave, or another wave closing, changes the key)."""
    waves = results.released_waves(survey)
    sizes = services.response_counts(db, waves)
    parts = ["survey", survey.id, hashlib.sha256(survey.definition.encode()).hexdigest(),
             [(w.id, w.label, sizes[w.id]) for w in waves], wave_label or "", by or "",
             _fingerprint(db, settings)]
    found = summary_cache.load(db, parts=parts, analysis_private=analysis_key)
    if found is not None:
        return summary_from_json(found)
    summary = survey_summary(db, settings=settings, survey=survey, by=by, wave_label=wave_label,
                             analysis_key=analysis_key)
    summary_cache.store(db, settings, source=f"survey-{survey.id}", parts=parts,
                        payload=summary_json(summary))
    return summary


# --- CSV --------------------------------------------------------------------------------------


def summary_csv(summary: ThemeSummary) -> str:
    """The summary's released figures as CSV, in words (source, theme, breakdown and group
    labels, never codes; UTF-8 with a byte order mark for Excel): hidden figures stay blank,
    with the reason; no phrase or quote is in it. For a survey, rows of the theme "People who
    wrote a comment" give the denominator."""
    out = io.StringIO()
    writer = csv.writer(out)
    tones = [t for t, _ in summary.tones]
    writer.writerow(["source", "table", "period", "theme", "breakdown", "group", summary.unit,
                     "suppressed", "reason", *(f"tone_{t}" for t in tones)])
    groups = [Column("", "Everyone"), *summary.columns]

    def rows(table: str, period: str, theme: str, cells: Sequence[Cell],
             toned: bool = True) -> None:
        for column, cell in zip(groups, cells, strict=True):
            writer.writerow([
                summary.title, table, period, theme,
                summary.breakdown_label if column.value else "", column.label,
                "" if cell.n is None else cell.n, str(cell.suppressed).lower(),
                cell.reason or "",
                *(("" if cell.counts is None or not toned else cell.counts.get(t, 0))
                  for t in tones)])

    for section in summary.sections:
        rows("chosen period", summary.period, section.theme.label, section.current)
        for row in section.trend:
            rows(f"trend by {summary.grain}", row.label, section.theme.label, row.cells)
    if summary.commented is not None:
        rows("chosen period", summary.period, COMMENTED, summary.commented, toned=False)
    return "\ufeff" + out.getvalue()
