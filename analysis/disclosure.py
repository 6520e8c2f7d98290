"""Disclosure control: the one gate every aggregate passes before anyone sees it.

Every figure the platform shows about people below trust level (page, CSV, CLI, API, PDF) comes
from `release`. Its input is one question's respondent-level data reduced to *atoms* (counts of
identical records, what a SQL ``GROUP BY`` of every dimension and the answer gives), wrapped in
a `Population`.

The promise
-----------
An attacker who knows every category list and every figure the platform can release for a
closed wave (or a complete quarter), and who solves them together as a linear or integer
programme, cannot

- pin a group of 1 to k - 1 people, nor bound it to between 1 and k - 1 (so learn that it is a
  small, non-empty group), nor
- prove that everyone in a non-empty group gave one answer,

for any group of the query space, or any group of a released line minus one of its cells.

The query space (limited, on purpose)
-------------------------------------
A release is decided per wave (``policy.wave_dim``: a survey wave, a quarter of concerns); each
wave is a population of its own and is decided once. Within a wave the groups that can be
asked for are: everyone; one condition on any dimension; and one condition on the *hub*
dimension (``policy.hub``, or a grouping of it, ``policy.groupings``) together with one
condition on any other dimension (or a grouping of one, ``policy.groupings``). For surveys the
hub is ethnicity (five ONS groups, with White / Global majority as a grouping of it), so the
directorate filter goes with an ethnic-group breakdown only; for concerns it is the month within
the quarter; for workforce breakdowns the band (or WDES cluster, or pay quartile), with the
broad and WRES ethnic groups as groupings of the detailed ethnicity. Two conditions on non-hub
dimensions (band by staff group), and filters on top of a two-way table, are not offered. Why:

- EDI analysis compares ethnic groups within each other characteristic (the Kline review's
  question); band by staff group adds little and is where the issue-9 attacker pinned a group
  of 4 from one query.
- The tables of such a space form a star around the hub: every released group lies in one
  clique {hub, one dimension, answer}, and the cliques meet only in {hub, answer}. For such a
  decomposable structure any integer tables of the cliques that agree on the hub extend to a
  whole population (glue them within each hub value and answer), so an exact audit needs only
  the clique tables (hundreds of unknowns), not the cube of every dimension (millions). With
  arbitrary pairs the clique is every dimension and an exact audit is out of reach.
- Each wave on its own: a new wave (or a late import into another) never changes the figures of
  a closed wave, and figures pooled over waves are sums of per-wave figures (no new facts).

The policy
----------
Decided per wave, in this order:

1. *No zeros.* Every group of 0 to k - 1 people, empty or not, is released as "fewer than k"
   (the interval 0..k - 1): an empty cell looks like a small one, so the zeros of a table and its
   margins cannot be subtracted (the issue's ``337 - 61 - 96 - 124 - 12 - 40 = 4``). Structural
   zeros are never released either: every category is listed whether or not anyone has it.
2. *Exact where safe, a range where not.* A group of k or more is released exactly. The count
   figures of the wave are then audited (below); for each group the audit cannot clear, one
   neighbour in a line through it (the smallest exactly shown group, so that the least
   information is lost) is coarsened to a range on a fixed grid: "between 40 and 49", then
   width 20, 50, 100; only then hidden. Coarsening instead of suppressing (tau-ARGUS protection
   intervals, shown as a range) keeps what can be kept. This repeats until the audit clears every
   group.
3. *Answers.* A group shown exactly shows its answer counts, unless all its members gave one
   answer. The counts and answer counts together are audited (now also for groups proved to
   have answered alike); each group the audit cannot clear gets the answers of a neighbour in
   its lines hidden (smallest first), to a fixpoint. A group shown as a range never shows its
   answers. Favourable percentages are computed from shown answer counts, so they add nothing.

The audit
---------
For one wave: unknowns are the people in each cell of every clique (hub value, value of one
dimension, answer) and each hub cell, linked by equalities (each clique adds up to the hub
cells); every released figure is ``low <= sum <= high``; values with people only in other waves
(a month of another quarter) are pinned at zero, and one-way counts everyone knows anyway
(``policy.public``: pay quartiles are a quarter of the paid staff each) are exact and never
coarsened. The auditor must *prove* each small
group safe: it looks, with scipy's HiGHS integer solver (`milp`), for an integer population
consistent with every released figure in which the group is empty or has at least k people
(or, for a group that answered alike, is empty or has someone answering otherwise). One solve
minimising the sum of all groups not yet cleared clears many at once; solves maximising them
clear others; the rest are solved one by one. A witness is the linear relaxation's optimum when
that vertex is integer (most of the time for these tables, and much faster), else the integer
programme's. A group without such a witness is a breach and is protected (2 and 3 above), by
the least-cost relaxation of the released figures that lets it be safe (an LP in which every
figure may give at a cost, cheaper for large groups and for two-way cells than for margins);
each figure that had to give is coarsened to the narrowest grid range holding the value needed.
Protection only coarsens, so a group cleared once stays cleared and later rounds re-audit only
the rest. So what is released is proved safe against an integer-programming
attacker for every group of the space and every line minus a cell; the test attacker
(``tests/analysis/attacker.py``) solves the whole cube independently and checks it.

Against the anchors:

- tau-ARGUS secondary suppression with protection intervals solved as an LP over linked tables:
  the same idea (the attacker's LP over linked tables decides), with the protection shown as a
  range instead of a blank, and with the integer solver proving feasibility of a safe value
  rather than requiring a protection interval of fixed width. Choosing complements by the
  smallest shown neighbour is a heuristic (tau-ARGUS's optimal mode solves that choice as a MILP
  too); it is not optimal but every result is audited.
- ONS 2021 cell key method: perturbation stops differencing without hiding, but each figure is
  off by a little, small counts become noisy but still shown, and an LP attacker with bounded
  noise still narrows cells; a board paper quoting "37" that is really 35 is hard to explain.
  Not used: consistent decisions per wave (decided once, cached) give the same protection
  against repeated queries.
- Not releasing zeros: used (rule 1); it removes most exact pins by itself.
- Coarsening categories before suppressing: used for ethnicity (19 ONS categories coarsened to
  5 groups; the 19 are almost all below k) and, per figure, as ranges.

Versions
--------
A release is decided once per wave and kept (``core.release_store``; `Population.record`,
`adopt`). When the data behind a published release changes (a late import, a guardian's theme
correction, a re-imported workforce period), the new version is audited against the old one
(`Population.audit_change`): an attacker holding both must not tie the changed records to a
small group. Exception made on purpose: a wave in which nobody answered a question shows 0 ("no
answers"), the only zero released; it describes nobody.

What is not covered
-------------------
Each question is audited on its own; two questions answered by the same people give two
populations whose counts differ only by those who skipped one of them, and an attacker who
intersects the ranges of two questions is not modelled. The pattern of protection (which
neighbour became a range) depends on the data, as in tau-ARGUS; it is not audited. Free text is
out of scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from analysis import AnalysisError

UNKNOWN: Final = "unknown"
PREFER_NOT: Final = "prefer-not"

Reason = Literal["below k", "complementary"]

_Ints = npt.NDArray[np.int64]

# Count levels: "fewer than k", exact, ranges on grids of these widths, hidden.
_SMALL: Final = -1
_EXACT: Final = 0
_WIDTHS: Final = (10, 20, 50, 100)
_HIDDEN: Final = len(_WIDTHS) + 1
_SOLVER_SECONDS: Final = 30.0


class DisclosureError(AnalysisError):
    """A policy, population or query that disclosure control cannot accept."""


@dataclass(frozen=True)
class Policy:
    """What may be shown: the minimum cell size and the query space.

    ``k``: minimum number of respondents in any group shown exactly (NHS Staff Survey: 11).
    ``hub``: the one dimension a two-way table must include (None: one-way tables only).
    ``groupings``: dimensions defined as groupings of another's values, as ``(name, source,
    ((value, group), ...))`` (e.g. White / Global majority as a grouping of ethnicity); a value
    not listed is in the group ``"unknown"``. A grouping of the hub counts as the hub.
    ``wave_dim``: the dimension every query fixes or breaks down by; each of its values is
    decided on its own. None, or a name the population lacks, means one wave.
    ``public``: dimensions whose one-way counts everyone knows anyway (pay quartiles are a
    quarter of the paid staff each): shown exactly, and the audit takes them as known.
    ``counted``: every record has the same answer by construction (staff counted by band):
    only counts are released and audited; the same-answer rule says nothing about a constant.
    """

    k: int = 11
    hub: str | None = None
    groupings: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    wave_dim: str | None = "wave"
    public: frozenset[str] = frozenset()
    counted: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 2:
            raise DisclosureError(f"k must be an integer of at least 2, not {self.k!r}")
        if self.wave_dim is not None and any(source == self.wave_dim for _, source, _ in self.groupings):
            raise DisclosureError("the wave cannot be grouped")

    def grouping(self, dimension: str) -> tuple[str, dict[str, str]] | None:
        """The source dimension and value -> group mapping of a grouping dimension, or None."""
        for name, source, pairs in self.groupings:
            if name == dimension:
                return source, dict(pairs)
        return None


@dataclass(frozen=True)
class Cell:
    """One group of a released table.

    ``group``: the breakdown values (``{}`` for the table's total; the query's ``where`` is on the
    `Release`). ``n``: respondents when shown exactly, else None. ``suppressed``: n is not shown
    exactly. ``low``/``high``: the range shown instead ("fewer than k" is 0 to k - 1), or None
    when nothing is shown. ``reason``: why n or the answers are not shown, or None. ``counts``:
    respondents per answer option, or None when hidden. ``favourable_pct``: percentage choosing a
    favourable option, or None when hidden or the group is empty.
    """

    group: dict[str, str]
    n: int | None
    suppressed: bool
    reason: Reason | None
    counts: dict[str, int] | None
    favourable_pct: float | None
    low: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class Release:
    """A table that has passed disclosure control: the total first, then every breakdown cell.

    For a 2-D table the cells are the total, each row margin, each column margin, then the
    interior row by row.
    """

    k: int
    by: tuple[str, ...]
    where: dict[str, str]
    cells: list[Cell]

    def cell(self, group: Mapping[str, str]) -> Cell:
        """The cell for ``group`` (breakdown values; ``{}`` for the total); DisclosureError if absent."""
        wanted = dict(group)
        for cell in self.cells:
            if cell.group == wanted:
                return cell
        raise DisclosureError(f"no cell {wanted!r} in this release")


def count_text(cell: Cell, k: int) -> str:
    """A cell's number of people as a board member reads it: "37", "between 40 and 49",
    "fewer than 11" or "hidden"."""
    if cell.n is not None:
        return f"{cell.n:,}"
    if cell.low is None or cell.high is None:
        return "hidden"
    if cell.low == 0 and cell.high == k - 1:
        return f"fewer than {k}"
    return f"between {cell.low:,} and {cell.high:,}"


def why_text(cell: Cell, k: int) -> str:
    """Why a cell's figures are not all shown, in plain words ("" when everything is shown)."""
    if cell.reason == "below k":
        return (f"Fewer than {k} people: too few to show safely (a group with none looks the "
                "same, so this does not say anyone is in it).")
    if cell.reason == "complementary":
        if cell.n is not None:
            return ("Answers hidden: with the other figures they would show how one person or a "
                    "small group answered.")
        if cell.low is not None:
            return ("Shown as a range: the exact number, with the other figures, would give away "
                    "how many are in a small group.")
        return "Hidden: with the other figures it would give away a small group."
    return ""


# --- populations -------------------------------------------------------------------------------


class _FirstSeen(dict[object, int]):
    """Codes values in order of first appearance (``map(codes.__getitem__, column)`` runs in C)."""

    def __missing__(self, key: object) -> int:
        code = self[key] = len(self)
        return code


def _demographic_label(raw: object) -> str:
    return UNKNOWN if raw is None or raw == PREFER_NOT else str(raw)


def _encode(column: Iterable[object], size: int, labels_of: Sequence[str] | None,
            answer: bool) -> tuple[_Ints, list[str]]:
    """Integer codes in sorted label order; code -1 for a skipped answer."""
    first_seen = _FirstSeen()
    raw_codes = np.fromiter(map(first_seen.__getitem__, column), dtype=np.int64, count=size)
    if answer:
        names: list[str | None] = [None if raw is None else str(raw) for raw in first_seen]
    else:
        names = [_demographic_label(raw) for raw in first_seen]
    present = {name for name in names if name is not None}
    ordered = sorted(present | set(labels_of or ()))
    position = {name: i for i, name in enumerate(ordered)}
    remap = np.array([-1 if name is None else position[name] for name in names] or [0], dtype=np.int64)
    return remap[raw_codes], ordered


def _check_dimensions(dimensions: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dimensions)
    if isinstance(dimensions, str) or len(set(names)) != len(names):
        raise DisclosureError("dimensions must be a sequence of distinct names")
    return names


class Population:
    """One question's responses as atoms; immutable. Build with `from_records` or `from_counts`.

    ``dimensions``: the demographic dimensions, in the caller's order. ``values(dim)``: the
    categories, sorted (missing and ``"prefer-not"`` as ``"unknown"``), including those nobody
    has when the category lists were given. ``answers``: the answers given, sorted.
    ``respondents``: how many answered (skips are left out).
    """

    __slots__ = ("_answer_codes", "_answers", "_codes", "_counts", "_decided", "_dimensions",
                 "_respondents", "_values")

    def __init__(self, *, dimensions: tuple[str, ...], values: tuple[tuple[str, ...], ...],
                 answers: tuple[str, ...], codes: _Ints, answer_codes: _Ints, counts: _Ints) -> None:
        self._dimensions = dimensions
        self._values = values
        self._answers = answers
        self._codes = codes
        self._answer_codes = answer_codes
        self._counts = counts
        self._respondents = int(counts.sum())
        self._decided: dict[tuple[Policy, int], _Decision] = {}

    @classmethod
    def from_records(cls, records: Iterable[tuple[Mapping[str, str | None], str | None]],
                     dimensions: Sequence[str],
                     categories: Mapping[str, Sequence[str]] | None = None) -> Population:
        """A population from individual records ``(values by dimension, answer)``.

        A dimension missing from the mapping, None or ``"prefer-not"`` is ``"unknown"``; an answer
        of None is a skip and the record is left out. ``categories``: see `from_counts`.
        """
        names = _check_dimensions(dimensions)
        tally = Counter((tuple(values.get(name) for name in names), answer) for values, answer in records)
        return cls.from_counts([(*values, answer, n) for (values, answer), n in tally.items()], names,
                               categories)

    @classmethod
    def from_counts(cls, rows: Iterable[Sequence[object]], dimensions: Sequence[str],
                    categories: Mapping[str, Sequence[str]] | None = None) -> Population:
        """A population from atoms as a SQL ``GROUP BY`` returns them.

        Each row is ``(value of each dimension in order..., answer, count)``. Values are compared
        as ``str(value)``; None and ``"prefer-not"`` are ``"unknown"``; rows with answer None
        (skips) are left out; repeated rows add up. ``categories`` lists the possible values of
        dimensions (``"unknown"`` is added): every one is shown in a breakdown, so that a value
        nobody has is not told apart from a small group. Without it, only values someone has
        are known, which tells a reader those values are not empty.
        """
        names = _check_dimensions(dimensions)
        table = rows if isinstance(rows, list) else list(rows)
        width = len(names) + 2
        if table and set(map(len, table)) != {width}:
            raise DisclosureError(f"every row must have {width} fields: the dimensions, answer and count")
        size = len(table)
        known = categories or {}
        columns = []
        for j, name in enumerate(names):
            listed = [*known[name], UNKNOWN] if name in known else None
            columns.append(_encode(map(itemgetter(j), table), size, listed, answer=False))
        answer_codes, answers = _encode(map(itemgetter(width - 2), table), size, None, answer=True)
        try:
            counts = np.fromiter(map(itemgetter(width - 1), table), dtype=np.int64, count=size)
        except (TypeError, ValueError, OverflowError) as e:
            raise DisclosureError("counts must be integers") from e
        if (counts < 0).any():
            raise DisclosureError("counts must not be negative")
        kept = (answer_codes >= 0) & (counts > 0)
        used_answers = sorted({answers[c] for c in answer_codes[kept].tolist()})
        renumber = np.array([used_answers.index(a) if a in used_answers else -1 for a in answers] or [0])
        values = []
        codes = []
        for j, (column, labels) in enumerate(columns):
            if names[j] in known:
                values.append(tuple(labels))
                codes.append(column[kept])
                continue
            present = sorted({labels[c] for c in column[kept].tolist()})
            values.append(tuple(present))
            codes.append(np.array([present.index(labels[c]) for c in column[kept].tolist()],
                                  dtype=np.int64))
        return cls(
            dimensions=names, values=tuple(values), answers=tuple(used_answers),
            codes=np.stack(codes, axis=1) if codes else np.zeros((int(kept.sum()), 0), dtype=np.int64),
            answer_codes=renumber[answer_codes[kept]].astype(np.int64), counts=counts[kept],
        )

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The dimensions, in the order given when building."""
        return self._dimensions

    @property
    def answers(self) -> tuple[str, ...]:
        """Every answer given at least once, sorted."""
        return self._answers

    @property
    def respondents(self) -> int:
        """How many answered the question."""
        return self._respondents

    def values(self, dimension: str) -> tuple[str, ...]:
        """The categories of ``dimension``, sorted; DisclosureError if unknown."""
        return self._values[self._dimension_index(dimension)]

    def _dimension_index(self, dimension: str) -> int:
        try:
            return self._dimensions.index(dimension)
        except ValueError as e:
            raise DisclosureError(f"unknown dimension {dimension!r}") from e

    def _wave_index(self, policy: Policy) -> int | None:
        return self._dimensions.index(policy.wave_dim) if policy.wave_dim in self._dimensions else None

    def _slice(self, policy: Policy, wave: int) -> _Slice:
        wave_index = self._wave_index(policy)
        hub = self._dimension_index(policy.hub) if policy.hub in self._dimensions else None
        spokes = tuple(d for d in range(len(self._dimensions)) if d not in (wave_index, hub))
        keep = np.ones(len(self._counts), dtype=np.bool_) if wave_index is None else (
            self._codes[:, wave_index] == wave)
        codes = self._codes[keep]
        answers = self._answer_codes[keep]
        counts = self._counts[keep]
        # At least two answer columns: with one answer given, the other options (every question
        # has two or more) are an answer nobody gave, which the audit must be able to consider.
        options = max(len(self._answers), 2)
        hub_codes = codes[:, hub] if hub is not None else np.zeros(len(counts), dtype=np.int64)
        hub_card = len(self._values[hub]) if hub is not None else 1
        hub_table = np.bincount(hub_codes * options + answers, weights=counts,
                                minlength=hub_card * options).astype(np.int64).reshape(hub_card, options)
        tables = []
        for d in spokes:
            card = len(self._values[d])
            key = (hub_codes * card + codes[:, d]) * options + answers
            tables.append(np.bincount(key, weights=counts, minlength=hub_card * card * options)
                          .astype(np.int64).reshape(hub_card, card, options))
        # A value with people in other waves but none in this one is taken as structurally empty
        # here (a month of another quarter is): the audit pins it at zero, which can only make
        # it stricter.
        elsewhere = ~keep
        absent = []
        for dim in (hub, *spokes):
            if dim is None:
                absent.append(np.zeros(1, dtype=np.bool_))
                continue
            card = len(self._values[dim])
            here = np.bincount(codes[:, dim], minlength=card) > 0
            there = np.bincount(self._codes[elsewhere, dim], minlength=card) > 0
            absent.append(there & ~here)
        groupings = []
        for _, source, pairs in policy.groupings:
            if source not in self._dimensions:
                continue  # a population without it (e.g. wave sizes): nothing to group
            mapping = dict(pairs)
            d = self._dimensions.index(source)
            labels = [mapping.get(v, UNKNOWN) for v in self._values[d]]
            groups = sorted(set(labels))
            of = tuple(groups.index(g) for g in labels)
            groupings.append((-1 if d == hub else spokes.index(d), tuple(groups), of))
        return _Slice(hub_table, tuple(tables), spokes, tuple(groupings), absent[0], tuple(absent[1:]))

    def decision(self, policy: Policy, wave: str | None = None) -> _Decision:
        """The release decided for one wave (memoised): see the module docstring."""
        code = self._wave_code(policy, wave)
        key = (policy, code)
        found = self._decided.get(key)
        if found is None:
            cut = self._slice(policy, code)
            public = [-1 if policy.hub == name else cut.spokes.index(self._dimension_index(name))
                      for name in policy.public if name in self._dimensions]
            found = self._decided[key] = _decide(cut, policy.k, public, policy.counted)
        return found

    def decided(self, policy: Policy, wave: str | None = None) -> bool:
        """Whether this wave's release is already decided (or adopted) in this population."""
        return (policy, self._wave_code(policy, wave)) in self._decided

    def record(self, policy: Policy, wave: str | None = None) -> dict[str, object]:
        """What a store keeps of one wave's release (sealed: it holds the true counts): the
        decision (`adopt`), every released figure, and the counts it was made from, so that a
        later version can be audited against this one (`audit_change`)."""
        decision = self.decision(policy, wave)
        audit = _Audit(decision, policy.k, answers=True)
        figures = [[g.key(), a, lo, hi] for (g, a), lo, hi in zip(
            audit.about, audit.low.tolist(), audit.high.tolist(), strict=True)]
        return {"decision": decision.state(), "figures": figures,
                "truth": decision.slice.truth().astype(int).tolist()}

    def fingerprint(self, policy: Policy, wave: str | None = None) -> bytes:
        """The wave's counts as bytes (for a store to tell whether the data changed; key it)."""
        cut = self._slice(policy, self._wave_code(policy, wave))
        return cut.truth().astype(np.int64).tobytes() + repr(cut.truth().shape).encode()

    def audit_change(self, policy: Policy, wave: str | None, previous: Mapping[str, object]) -> int:
        """Audit this wave's release against a previous version's (`record`) for the same
        categories: an attacker holding both must not tie the records that changed (a theme
        correction, a re-imported period) to a small group. For every group of the space
        whose count changed by 1 to k - 1 (the wave's total aside: that a correction happened
        is no secret), there must be integer populations, one per version, consistent with
        each version's figures and differing by no more records than really changed, in which
        that group did not change (or changed by k or more); otherwise the group, or an exact
        neighbour in its lines, is coarsened in the new version (the old one is published and
        stays). Returns how many figures were coarsened."""
        decision = self.decision(policy, wave)
        old_truth = np.asarray(previous.get("truth", []), dtype=float)
        figures = previous.get("figures")
        if old_truth.shape != decision.slice.truth().shape or not isinstance(figures, list):
            raise DisclosureError("the previous release is of other categories")
        coarsened = 0
        while True:
            breached = _change_breaches(decision, policy.k, old_truth, figures)
            if not breached:
                return coarsened
            lines = decision.slice.lines()
            everyone = _Group((True,) * decision.slice.hubs)
            for group in breached:
                # The group itself, or if its own figure is already coarse, the smallest exact
                # figure beside it (its change may follow from its neighbours' changes).
                near = [g for margin, cells in lines if group == margin or group in cells
                        for g in (margin, *cells)
                        if g not in (group, everyone) and decision.level[g] == _EXACT]
                own = decision.level[group]
                if own == _EXACT or not near:
                    _widen(decision, group, [], policy.k)
                else:
                    _widen(decision, min(near, key=lambda g: decision.n[g]), [], policy.k)
                coarsened += 1

    def adopt(self, policy: Policy, wave: str | None, state: Mapping[str, object]) -> None:
        """Use a decision saved with `DecisionState` (`_Decision.state`) for one wave, after
        checking it is still safe for this population: a saved decision whose audit fails (the
        data changed) raises DisclosureError."""
        code = self._wave_code(policy, wave)
        decision = _Decision.from_state(self._slice(policy, code), state)
        decision.public = frozenset(
            -1 if policy.hub == name else decision.slice.spokes.index(self._dimension_index(name))
            for name in policy.public if name in self._dimensions)
        if _breaches(decision, policy.k, answers=not policy.counted):
            raise DisclosureError("the saved release no longer passes the audit")
        self._decided[(policy, code)] = decision

    def _wave_code(self, policy: Policy, wave: str | None) -> int:
        index = self._wave_index(policy)
        if index is None:
            return 0
        if wave not in self._values[index]:
            raise DisclosureError(f"no wave {wave!r}")
        return self._values[index].index(wave)


# --- one wave: groups, lines and the audit's unknowns --------------------------------------------


@dataclass(frozen=True)
class _Group:
    """People of one wave: hub values in ``hub`` (a mask) and, when ``spoke`` >= 0, values in
    ``values`` (a mask) of the ``spoke``-th other dimension."""

    hub: tuple[bool, ...]
    spoke: int = -1
    values: tuple[bool, ...] = ()

    def key(self) -> str:
        bits = "".join("1" if b else "0" for b in self.hub)
        if self.spoke < 0:
            return bits
        return f"{bits}/{self.spoke}/" + "".join("1" if b else "0" for b in self.values)

    @classmethod
    def from_key(cls, key: str) -> _Group:
        parts = key.split("/")
        hub = tuple(c == "1" for c in parts[0])
        if len(parts) == 1:
            return cls(hub)
        return cls(hub, int(parts[1]), tuple(c == "1" for c in parts[2]))


@dataclass
class _Slice:
    """One wave's clique tables: ``hub_table[u, a]`` and, per other dimension j,
    ``tables[j][u, v, a]``; ``groupings``: (-1 for the hub or the other dimension's position,
    groups, group of each value)."""

    hub_table: _Ints
    tables: tuple[_Ints, ...]
    spokes: tuple[int, ...]
    groupings: tuple[tuple[int, tuple[str, ...], tuple[int, ...]], ...]
    absent_hubs: npt.NDArray[np.bool_]
    absent_values: tuple[npt.NDArray[np.bool_], ...]
    _offsets: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        offset = self.hub_table.size
        for table in self.tables:
            self._offsets.append(offset)
            offset += table.size
        self.size = offset

    @property
    def hubs(self) -> int:
        return int(self.hub_table.shape[0])

    @property
    def options(self) -> int:
        return int(self.hub_table.shape[1])

    def empty(self) -> npt.NDArray[np.bool_]:
        """Unknowns known to be zero (values present only in other waves)."""
        parts = [np.repeat(self.absent_hubs, self.options)]
        for table, absent in zip(self.tables, self.absent_values, strict=True):
            hubs, card, options = table.shape
            parts.append(np.broadcast_to(self.absent_hubs[:, None, None] | absent[None, :, None],
                                         (hubs, card, options)).reshape(-1))
        return np.concatenate(parts)

    def truth(self) -> npt.NDArray[np.float64]:
        """The real people per unknown."""
        if not hasattr(self, "_truth"):
            self._truth = np.concatenate(
                [self.hub_table.reshape(-1), *(t.reshape(-1) for t in self.tables)]).astype(float)
        return self._truth

    def columns(self, group: _Group, answers: Sequence[int] | None = None) -> _Ints:
        """Indices of the unknowns holding ``group``'s people (with one of ``answers``)."""
        chosen = np.arange(self.options) if answers is None else np.asarray(answers, dtype=np.int64)
        hubs = np.flatnonzero(group.hub)
        if group.spoke < 0:
            return (hubs[:, None] * self.options + chosen[None, :]).reshape(-1)
        card = self.tables[group.spoke].shape[1]
        values = np.flatnonzero(group.values)
        cells = hubs[:, None] * card + values[None, :]
        found: _Ints = (self._offsets[group.spoke] + cells.reshape(-1)[:, None] * self.options
                        + chosen[None, :]).reshape(-1)
        return found

    def links(self, options: int) -> sparse.csr_matrix:
        """Each clique adds up to the hub cells: ``sum_v z_j[u, v, a] - s[u, a] = 0``, over
        unknowns with ``options`` answer columns per cell (1: answers added together)."""
        rows, cols, data = [], [], []
        row = 0
        for j, table in enumerate(self.tables):
            card = table.shape[1]
            offset = self._offsets[j] // self.options * options
            for u in range(self.hubs):
                for a in range(options):
                    cols.append(u * options + a)
                    data.append(-1.0)
                    rows.append(row)
                    for v in range(card):
                        cols.append(offset + (u * card + v) * options + a)
                        data.append(1.0)
                        rows.append(row)
                    row += 1
        return sparse.csr_matrix((data, (rows, cols)), shape=(row, self.size // self.options * options))

    def hub_selections(self) -> list[tuple[bool, ...]]:
        """Everyone, each hub value, each group of each grouping."""
        everyone = (True,) * self.hubs
        found = [everyone]
        if self.hubs > 1:
            found += [tuple(i == u for i in range(self.hubs)) for u in range(self.hubs)]
        for j, groups, of in self.groupings:
            if j < 0:
                found += [tuple(of[u] == g for u in range(self.hubs)) for g in range(len(groups))]
        return list(dict.fromkeys(found))

    def value_selections(self) -> list[tuple[int, tuple[bool, ...]]]:
        """Each value of each other dimension, and each group of each grouping of one."""
        found = []
        for j, table in enumerate(self.tables):
            card = table.shape[1]
            found += [(j, tuple(i == v for i in range(card))) for v in range(card)]
        for j, groups, of in self.groupings:
            if j >= 0:
                found += [(j, tuple(o == g for o in of)) for g in range(len(groups))]
        return list(dict.fromkeys(found))

    def space(self) -> list[_Group]:
        """Every group of the query space in this wave."""
        found = []
        for hub in self.hub_selections():
            found.append(_Group(hub))
            found += [_Group(hub, j, values) for j, values in self.value_selections()]
        return found

    def lines(self) -> list[tuple[_Group, list[_Group]]]:
        """Each margin with cells that add up to it."""
        found: list[tuple[_Group, list[_Group]]] = []
        everyone = (True,) * self.hubs
        partitions = []
        if self.hubs > 1:
            partitions.append([tuple(i == u for i in range(self.hubs)) for u in range(self.hubs)])
        for j, groups, of in self.groupings:
            if j >= 0:
                continue
            partitions.append([tuple(of[u] == g for u in range(self.hubs)) for g in range(len(groups))])
            for g in range(len(groups)):
                members = [u for u in range(self.hubs) if of[u] == g]
                if len(members) > 1:
                    found += self._hub_lines(tuple(of[u] == g for u in range(self.hubs)),
                                             [tuple(i == u for i in range(self.hubs)) for u in members])
        for parts in partitions:
            found += self._hub_lines(everyone, parts)
        for hub in self.hub_selections():
            for j, table in enumerate(self.tables):
                card = table.shape[1]
                found.append((_Group(hub), [_Group(hub, j, tuple(i == v for i in range(card)))
                                            for v in range(card)]))
            for j, groups, of in self.groupings:
                if j < 0:
                    continue
                masks = [tuple(o == g for o in of) for g in range(len(groups))]
                found.append((_Group(hub), [_Group(hub, j, m) for m in masks]))
                for mask in masks:
                    if sum(mask) > 1:
                        found.append((_Group(hub, j, mask), [
                            _Group(hub, j, tuple(i == v for i in range(len(of))))
                            for v in range(len(of)) if mask[v]]))
        return found

    def _hub_lines(self, margin: tuple[bool, ...], parts: list[tuple[bool, ...]],
                   ) -> list[tuple[_Group, list[_Group]]]:
        found = [(_Group(margin), [_Group(p) for p in parts])]
        for j, value in self.value_selections():
            found.append((_Group(margin, j, value), [_Group(p, j, value) for p in parts]))
        return found


def _minus(margin: _Group, cell: _Group) -> _Group:
    """The margin's people outside the cell (the cell refines the margin in hub or in values)."""
    if margin.hub != cell.hub:
        return _Group(tuple(m and not c for m, c in zip(margin.hub, cell.hub, strict=True)),
                      cell.spoke, cell.values)
    within = margin.values if margin.spoke >= 0 else (True,) * len(cell.values)
    return _Group(margin.hub, cell.spoke,
                  tuple(m and not c for m, c in zip(within, cell.values, strict=True)))


# --- decisions ---------------------------------------------------------------------------------


@dataclass
class _Decision:
    """The release of one wave: a count level and whether answers show, per group of the space."""

    slice: _Slice
    level: dict[_Group, int]
    answers: dict[_Group, bool]
    reason: dict[_Group, Reason]
    n: dict[_Group, int]
    public: frozenset[int] = frozenset()

    def interval(self, group: _Group, k: int) -> tuple[int, int] | None:
        """What is released about the group's count: (low, high), or None."""
        level = self.level[group]
        n = self.n[group]
        if level == _SMALL:
            return (0, k - 1)
        if level == _EXACT:
            return (n, n)
        if level == _HIDDEN:
            return None
        width = _WIDTHS[level - 1]
        return (width * (n // width), width * (n // width) + width - 1)

    def state(self) -> dict[str, object]:
        """The decision as plain data (levels and answer flags by group; no counts)."""
        return {"level": {g.key(): lv for g, lv in self.level.items()},
                "answers": sorted(g.key() for g, shown in self.answers.items() if shown),
                "reason": {g.key(): r for g, r in self.reason.items()}}

    @classmethod
    def from_state(cls, cut: _Slice, state: Mapping[str, object]) -> _Decision:
        decision = _initial(cut, 2)
        levels = state.get("level")
        shown = state.get("answers")
        reasons = state.get("reason")
        if not isinstance(levels, Mapping) or not isinstance(shown, list) or not isinstance(reasons, Mapping):
            raise DisclosureError("a saved release is malformed")
        try:
            decision.level = {_Group.from_key(str(key)): int(v) for key, v in levels.items()}
            decision.answers = dict.fromkeys(decision.level, False)
            decision.answers.update({_Group.from_key(str(key)): True for key in shown})
            decision.reason = {_Group.from_key(str(key)): v for key, v in reasons.items()}
        except (ValueError, IndexError) as e:
            raise DisclosureError("a saved release is malformed") from e
        if set(decision.level) != set(decision.n):
            raise DisclosureError("a saved release does not fit this population's categories")
        return decision


def _initial(cut: _Slice, k: int, public: Collection[int] = (), counted: bool = False) -> _Decision:
    truth = cut.truth()
    level: dict[_Group, int] = {}
    answers: dict[_Group, bool] = {}
    reason: dict[_Group, Reason] = {}
    sizes: dict[_Group, int] = {}
    for group in cut.space():
        per_answer = [int(truth[cut.columns(group, [a])].sum()) for a in range(cut.options)]
        n = sum(per_answer)
        sizes[group] = n
        level[group] = _EXACT if n >= k or _is_public(group, public) else _SMALL
        alike = n > 0 and max(per_answer) == n and not counted
        answers[group] = n >= k and not alike
        if n < k:
            reason[group] = "below k"
        elif alike:  # worded like any other hidden answers: saying why would tell
            reason[group] = "complementary"
    return _Decision(cut, level, answers, reason, sizes)


@dataclass(frozen=True)
class _Target:
    """A group the attacker must not learn about; ``alike``: the one answer all its people gave
    (-1 when the concern is its size)."""

    group: _Group
    alike: int
    lines: tuple[int, ...]


def _targets(cut: _Slice, k: int, answers: bool) -> tuple[list[_Target], list[tuple[_Group, list[_Group]]]]:
    truth = cut.truth()
    lines = cut.lines()
    where: dict[_Group, list[int]] = {}
    for i, (margin, cells) in enumerate(lines):
        for g in (margin, *cells):
            where.setdefault(g, []).append(i)
        for cell in cells:
            where.setdefault(_minus(margin, cell), []).append(i)
    found = []
    for group, line_ids in where.items():
        per_answer = [float(truth[cut.columns(group, [a])].sum()) for a in range(cut.options)]
        n = round(sum(per_answer))
        if 0 < n < k:
            found.append(_Target(group, -1, tuple(line_ids)))
        elif answers and n > 0 and round(max(per_answer)) == n:
            found.append(_Target(group, int(np.argmax(per_answer)), tuple(line_ids)))
    return found, lines


class _Audit:
    """The released figures of one wave as integer constraints, and the search for witnesses."""

    def __init__(self, decision: _Decision, k: int, answers: bool) -> None:
        cut = decision.slice
        self.cut = cut
        self.k = k
        self.answers = answers
        rows: list[_Ints] = []
        low: list[float] = []
        high: list[float] = []
        # What each row states: (group, answer or -1 for its count).
        self.about: list[tuple[_Group, int]] = []
        truth = cut.truth()
        for group, _ in decision.level.items():
            interval = decision.interval(group, k)
            if interval is not None:
                rows.append(cut.columns(group))
                low.append(interval[0])
                high.append(interval[1])
                self.about.append((group, -1))
            if answers and decision.answers[group] and decision.level[group] == _EXACT:
                for a in range(cut.options):
                    columns = cut.columns(group, [a])
                    rows.append(columns)
                    value = float(truth[columns].sum())
                    low.append(value)
                    high.append(value)
                    self.about.append((group, a))
        figures = _rows_matrix(rows, cut.size)
        if not answers:  # counts only: one unknown per cell (the answers added together)
            figures = _collapse(figures, cut.options)
        self.width = cut.size if answers else cut.size // cut.options
        self.figures = figures
        self.low = np.array(low, dtype=float)
        self.high = np.array(high, dtype=float)
        self.links = cut.links(cut.options if answers else 1)
        self.constraints = [LinearConstraint(figures, self.low, self.high)] if rows else []
        if self.links.shape[0]:
            self.constraints.append(LinearConstraint(self.links, 0, 0))
        total = float(truth.sum())
        self.cap = max([*self.high.tolist(), total]) if rows else 2 * total + k
        empty = cut.empty()
        if not answers:
            empty = np.asarray(empty.reshape(-1, cut.options).all(axis=1), dtype=np.bool_)
        self.upper = np.where(empty, 0.0, self.cap)

    def vector(self, group: _Group, answers: Sequence[int] | None = None) -> npt.NDArray[np.float64]:
        vector = np.zeros(self.cut.size)
        vector[self.cut.columns(group, answers)] = 1
        if not self.answers:
            folded: npt.NDArray[np.float64] = vector.reshape(-1, self.cut.options).max(axis=1)
            return folded
        return vector

    def solve(self, objective: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | None:
        """An integer population consistent with every figure, optimising ``objective``
        (a witness need not be optimal: the linear relaxation's vertex is used when it happens
        to be integer, which is most of the time for these tables, and is much faster)."""
        relaxed = milp(objective, bounds=Bounds(0, self.upper), constraints=self.constraints,
                       options={"time_limit": _SOLVER_SECONDS})
        if relaxed.x is not None and np.abs(relaxed.x - np.round(relaxed.x)).max() < 1e-7:
            vertex: npt.NDArray[np.float64] = np.round(relaxed.x)
            return vertex
        result = milp(objective, integrality=np.ones(self.width), bounds=Bounds(0, self.upper),
                      constraints=self.constraints, options={"time_limit": _SOLVER_SECONDS})
        return None if result.x is None else np.round(result.x)

    def cleared(self, target: _Target, x: npt.NDArray[np.float64]) -> bool:
        n = float(self.vector(target.group) @ x)
        if n == 0:
            return True
        if target.alike < 0:
            return n >= self.k
        return float(self.others(target) @ x) >= 1

    def others(self, target: _Target) -> npt.NDArray[np.float64]:
        return self.vector(target.group, [a for a in range(self.cut.options) if a != target.alike])

    def pressure(self, target: _Target) -> npt.NDArray[np.float64]:
        """What to maximise to clear the target without emptying it."""
        return self.vector(target.group) if target.alike < 0 else self.others(target)

    def breaches(self, targets: list[_Target]) -> list[_Target]:
        """The targets for which no integer population consistent with the figures is safe."""
        left = list(targets)
        for sign in (1.0, -1.0):  # empty them all at once, then fill them all at once
            while left:
                objective = sum((self.vector(t.group) if sign > 0 else -self.pressure(t) for t in left),
                                np.zeros(self.width))
                x = self.solve(objective)
                still = [t for t in left if x is None or not self.cleared(t, x)]
                if len(still) == len(left):
                    break
                left = still
        breached = []
        while left:  # one by one; each witness found may clear others still left
            target = left.pop(0)
            found = False
            for objective in (self.vector(target.group), -self.pressure(target)):
                x = self.solve(objective)
                if x is not None and self.cleared(target, x):
                    left = [t for t in left if not self.cleared(t, x)]
                    found = True
                    break
            if not found:
                breached.append(target)
        return breached

    def repair(self, target: _Target, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """How far each figure must give for the target to be safe: the least weighted
        relaxation (an LP, as tau-ARGUS sizes protection intervals) that lets the target be
        empty, or (answered alike) lets one of its people have answered otherwise. Returns, per
        figure row, the value the relaxed solution gives it."""
        rows = self.figures.shape[0]
        eye = sparse.identity(rows, format="csr")
        relaxed = sparse.hstack([self.figures, eye, -eye], format="csr")
        links = sparse.hstack([self.links, sparse.csr_matrix((self.links.shape[0], 2 * rows))], format="csr")
        if target.alike < 0:
            goal = LinearConstraint(np.concatenate([self.vector(target.group), np.zeros(2 * rows)]), 0, 0)
        else:
            goal = LinearConstraint(np.concatenate([self.others(target), np.zeros(2 * rows)]), 1, np.inf)
        constraints = [LinearConstraint(relaxed, self.low, self.high), goal]
        if links.shape[0]:
            constraints.append(LinearConstraint(links, 0, 0))
        objective = np.concatenate([np.zeros(self.width), weights, weights])
        upper = np.concatenate([self.upper, np.full(2 * rows, np.inf)])
        result = milp(objective, bounds=Bounds(0, upper), constraints=constraints,
                      options={"time_limit": _SOLVER_SECONDS})
        if result.x is None:  # pragma: no cover - hiding everything is always feasible
            return np.full(rows, np.nan)
        x = result.x[: self.width]
        return np.asarray(self.figures @ x)


def _rows_matrix(rows: list[_Ints], width: int) -> sparse.csr_matrix:
    if not rows:
        return sparse.csr_matrix((0, width))
    row_ids = np.concatenate([np.full(r.size, i) for i, r in enumerate(rows)])
    cols = np.concatenate(rows)
    return sparse.csr_matrix((np.ones(cols.size), (row_ids, cols)), shape=(len(rows), width))


def _collapse(matrix: sparse.csr_matrix, options: int) -> sparse.csr_matrix:
    """Columns of one cell's answers added together (a counts-only view)."""
    width = matrix.shape[1] // options
    fold = sparse.csr_matrix((np.ones(matrix.shape[1]), (np.arange(matrix.shape[1]),
                              np.arange(matrix.shape[1]) // options)), shape=(matrix.shape[1], width))
    folded = (matrix @ fold).tocsr()
    folded.data = folded.data / options  # every row covers all answers of its cells
    return folded


def _change_breaches(decision: _Decision, k: int, old_truth: npt.NDArray[np.float64],
                     old_figures: list[list[object]]) -> list[_Group]:
    """Groups whose change between versions the two releases tie down (see `audit_change`)."""
    cut = decision.slice
    new_truth = cut.truth()
    width = cut.size
    changed = float(np.abs(new_truth - old_truth).sum())  # the real distance between versions
    everyone = _Group((True,) * cut.hubs)
    whole = cut.columns(everyone)
    all_new, all_old = float(new_truth[whole].sum()), float(old_truth[whole].sum())
    targets = []
    for group in cut.space():
        columns = cut.columns(group)
        new, old = float(new_truth[columns].sum()), float(old_truth[columns].sum())
        if (new, old) == (all_new, all_old):
            continue  # everyone (in both versions): that a correction happened is no secret
        if 0 < abs(new - old) < k and decision.level[group] != _HIDDEN:
            targets.append((group, columns))
    if not targets:
        return []
    audit = _Audit(decision, k, answers=True)
    rows = [cut.columns(_Group.from_key(str(key)), None if int(str(a)) < 0 else [int(str(a))])
            for key, a, _, _ in old_figures]
    old = _rows_matrix(rows, width)
    low = np.array([float(str(f[2])) for f in old_figures])
    high = np.array([float(str(f[3])) for f in old_figures])
    zero = sparse.csr_matrix
    eye = sparse.identity(width, format="csr")
    # Unknowns: new cells, old cells, cells added, cells removed (old = new - added + removed).
    blocks = [
        sparse.hstack([audit.figures, zero((audit.figures.shape[0], 3 * width))]),
        sparse.hstack([zero((old.shape[0], width)), old, zero((old.shape[0], 2 * width))]),
        sparse.hstack([eye, -eye, -eye, eye]),
        sparse.hstack([zero((1, 2 * width)), np.ones((1, 2 * width))]),
    ]
    lows: list[npt.NDArray[np.float64]] = [audit.low, low, np.zeros(width), np.zeros(1)]
    highs: list[npt.NDArray[np.float64]] = [audit.high, high, np.zeros(width), np.full(1, changed)]
    links = audit.links
    if links.shape[0]:
        blocks += [sparse.hstack([links, zero((links.shape[0], 3 * width))]),
                   sparse.hstack([zero((links.shape[0], width)), links, zero((links.shape[0], 2 * width))])]
        lows += [np.zeros(links.shape[0])] * 2
        highs += [np.zeros(links.shape[0])] * 2
    constraint = LinearConstraint(sparse.vstack(blocks, format="csr"), np.concatenate(lows),
                                  np.concatenate(highs))
    upper = np.concatenate([audit.upper, audit.upper, np.full(2 * width, audit.cap)])
    breached = []
    for group, columns in targets:
        vector = np.zeros(4 * width)
        vector[width * 2 + columns] = 1  # records added to the group
        vector[width * 3 + columns] = 1  # records removed from it
        result = milp(vector, integrality=np.ones(4 * width), bounds=Bounds(0, upper),
                      constraints=[constraint], options={"time_limit": _SOLVER_SECONDS})
        if result.x is None:
            breached.append(group)
            continue
        x = np.round(result.x)
        delta = x[columns].sum() - x[width + columns].sum()
        if 0 < abs(delta) < k:
            breached.append(group)
    return breached


def _breaches(decision: _Decision, k: int, *, answers: bool) -> list[_Target]:
    targets, _ = _targets(decision.slice, k, answers)
    if not targets:
        return []
    return _Audit(decision, k, answers).breaches(targets)


def _weights(audit: _Audit, decision: _Decision, k: int) -> npt.NDArray[np.float64]:
    """The cost of moving each figure by one: small for large groups (a range on 300 loses
    less than one on 12), four times as much for a one-way figure as for a two-way one (margins are
    what boards read), more for "fewer than k" (hiding it says less still), most for the wave's
    total; answers cost about as much as a count (hiding them loses a whole chart bar)."""
    everyone = (True,) * decision.slice.hubs
    out = []
    for group, answer in audit.about:
        n = decision.n[group]
        one_way = group.hub == everyone or group.spoke < 0
        scale = 4.0 if one_way else 1.0
        if answer < 0 and group != _Group(everyone) and _is_public(group, decision.public):
            out.append(1e6)
        elif answer >= 0:
            out.append(2.0 * scale / (n + 1) + 0.01)
        elif group == _Group(everyone):
            out.append(10.0)
        elif decision.level[group] == _SMALL:
            out.append(1.0)
        else:
            out.append(scale / (n + 1))
    return np.array(out)


def _protect(decision: _Decision, k: int, *, answers: bool) -> None:
    """Repair every group the audit cannot clear, re-audit, until it clears them all.

    Repairs only coarsen or hide figures, which only widens what an attacker must consider, so
    a group cleared once stays cleared: each round re-audits only the groups not yet cleared."""
    targets, _ = _targets(decision.slice, k, answers)
    while targets:
        breached = _Audit(decision, k, answers).breaches(targets)
        if not breached:
            return
        targets = breached
        audit = _Audit(decision, k, answers)
        weights = _weights(audit, decision, k)
        needed: dict[_Group, list[int]] = {}
        hide_answers: set[_Group] = set()
        for target in breached:
            wanted = audit.repair(target, weights)
            for (group, answer), value, low, high in zip(audit.about, wanted, audit.low, audit.high,
                                                         strict=True):
                if low - 0.5 <= value <= high + 0.5 or not np.isfinite(value):
                    continue
                if answer >= 0:
                    hide_answers.add(group)
                else:
                    needed.setdefault(group, []).append(round(value))
        for group in hide_answers:
            decision.answers[group] = False
            decision.reason[group] = "complementary"
        for group, values in needed.items():
            _widen(decision, group, values, k)
        if not needed and not hide_answers:  # nothing to give (rounding): coarsen near the target
            for target in breached:
                _widen(decision, _nearest(decision, target), [], k)


def _widen(decision: _Decision, group: _Group, values: list[int], k: int) -> None:
    """Coarsen a group's count until its released range also holds every one of ``values``
    (none: one step), or hide it; a hidden group's reason never says it is small (that would be
    the "fewer than k" fact again)."""
    if group != _Group((True,) * decision.slice.hubs) and _is_public(group, decision.public):
        return  # known to everyone: coarsening it would protect nothing
    n = decision.n[group]
    level = decision.level[group]
    if level in (_SMALL, _HIDDEN):
        decision.level[group] = _HIDDEN
    else:
        new = level + 1
        while new < _HIDDEN and any(v // _WIDTHS[new - 1] != n // _WIDTHS[new - 1] for v in values):
            new += 1
        decision.level[group] = new
    decision.answers[group] = False
    decision.reason[group] = "complementary"


def _nearest(decision: _Decision, target: _Target) -> _Group:
    """The smallest group still shown exactly or as a range in a line through the target, or
    the target itself."""
    lines = decision.slice.lines()
    near = [g for i in target.lines for g in (lines[i][0], *lines[i][1])
            if decision.level.get(g, _HIDDEN) not in (_SMALL, _HIDDEN)]
    if near:
        return min(near, key=lambda g: decision.n[g])
    if target.group in decision.level:
        return target.group
    rest = [g for i in target.lines for g in (lines[i][0], *lines[i][1])
            if decision.level.get(g, _HIDDEN) != _HIDDEN or decision.answers.get(g)]
    if not rest:  # pragma: no cover - with every figure of its lines hidden the audit clears it
        raise DisclosureError("no figure left to protect a group with")
    return min(rest, key=lambda g: decision.n[g])


def _is_public(group: _Group, public: Collection[int]) -> bool:
    """A one-way group on a public dimension (-1: the hub)."""
    everyone = all(group.hub)
    if group.spoke < 0:
        return not everyone and -1 in public and sum(group.hub) == 1
    return everyone and group.spoke in public and sum(group.values) == 1


def _decide(cut: _Slice, k: int, public: Collection[int] = (), counted: bool = False) -> _Decision:
    decision = _initial(cut, k, public, counted)
    decision.public = frozenset(public)
    _protect(decision, k, answers=False)
    if not counted:  # a constant answer: everyone answers alike, and it says nothing
        _protect(decision, k, answers=True)
    return decision


# --- release -----------------------------------------------------------------------------------


def _source(policy: Policy, dim: str) -> str:
    """The population dimension a condition on ``dim`` is about (itself, or what it groups)."""
    grouping = policy.grouping(dim)
    return dim if grouping is None else grouping[0]


def _mask(population: Population, policy: Policy, dim: str, value: str) -> tuple[bool, ...] | None:
    """The values of ``dim``'s source dimension that the condition ``dim = value`` selects."""
    grouping = policy.grouping(dim)
    if grouping is None:
        values = population.values(dim)
        return tuple(v == value for v in values) if value in values else None
    source, mapping = grouping
    mask = tuple(mapping.get(v, UNKNOWN) == value for v in population.values(source))
    return mask if any(mask) else None


def _is_hub_like(policy: Policy, dim: str) -> bool:
    return policy.hub is not None and _source(policy, dim) == policy.hub


def release(population: Population, *, by: Sequence[str], where: Mapping[str, str], policy: Policy,
            options: Sequence[str], favourable: Collection[str]) -> Release:
    """The table of ``population`` broken down ``by`` (0-2 dimensions) within ``where``, made safe.

    Every figure is what the wave's decision (`Population.decision`) releases, whichever query
    shows it. The query must fix or break down by the wave dimension (when the population has
    one); its other conditions may be one on the hub (or a grouping of it) and one on any other
    dimension. ``options`` lists every possible answer in display order and must include every
    answer given; ``favourable`` (a subset) feeds ``favourable_pct``. A ``where`` value that is not
    a category gives cells shown as "fewer than k". A wave in which nobody answered at all gives
    cells of 0 (the only zeros released: they say nothing about anyone). Raises DisclosureError
    for any invalid query.
    """
    breakdown = tuple(by)
    fixed = dict(where)
    names = [*breakdown, *fixed]
    if isinstance(by, str) or len(breakdown) > 2 or len(set(names)) != len(names):
        raise DisclosureError("by takes up to two dimensions, none of them also in where")
    for name in names:
        if name not in population.dimensions and policy.grouping(name) is None:
            raise DisclosureError(f"unknown dimension {name!r}")
    wave_dim = policy.wave_dim if policy.wave_dim in population.dimensions else None
    if wave_dim is not None and wave_dim not in names:
        raise DisclosureError(f"the query must fix or break down by {wave_dim!r}")
    others = [n for n in names if n != wave_dim]
    hub_like = [n for n in others if _is_hub_like(policy, n)]
    if len(hub_like) > 1 or len(others) - len(hub_like) > 1:
        if policy.hub is None:
            raise DisclosureError("only one thing at a time can be shown here: a table of two "
                                  "things could give away small groups")
        raise DisclosureError(
            f"two things at once can be shown only when one of them is {policy.hub}: a table of "
            "two other things could give away small groups")
    option_list = list(options)
    if len(set(option_list)) != len(option_list) or not set(population.answers) <= set(option_list):
        raise DisclosureError("options must be distinct and include every answer given")
    if not set(favourable) <= set(option_list):
        raise DisclosureError("favourable options must be among the options")
    answer_position = [population.answers.index(o) if o in population.answers else -1 for o in option_list]
    favourable_positions = [i for i, o in enumerate(option_list) if o in favourable]
    k = policy.k

    def values_of(name: str) -> tuple[str, ...]:
        grouping = policy.grouping(name)
        if grouping is None:
            return population.values(name)
        source, mapping = grouping
        return tuple(sorted({mapping.get(v, UNKNOWN) for v in population.values(source)}))

    def wave_cell(group: dict[str, str], wave: str | None) -> Cell:
        conditions = {**fixed, **group}
        if (wave not in population.values(wave_dim)) if wave_dim else not population.respondents:
            # Nobody answered at all in this wave: saying so tells nothing about anyone.
            return Cell(group, 0, False, None, dict.fromkeys(option_list, 0), None)
        decision = population.decision(policy, wave)
        cut = decision.slice
        hub: tuple[bool, ...] = (True,) * cut.hubs
        spoke, values = -1, tuple[bool, ...]()
        for name, value in conditions.items():
            if name == wave_dim:
                continue
            mask = _mask(population, policy, name, value)
            if mask is None:
                return Cell(group, None, True, "below k", None, None, 0, k - 1)
            if _is_hub_like(policy, name):
                hub = tuple(a and b for a, b in zip(hub, mask, strict=True))
            else:
                spoke = cut.spokes.index(population._dimension_index(_source(policy, name)))
                values = mask
        key = _Group(hub, spoke, values)
        interval = decision.interval(key, k)
        reason = decision.reason.get(key)
        n = decision.n[key]
        if interval is None:
            return Cell(group, None, True, reason, None, None)
        low, high = interval
        if low != high:
            return Cell(group, None, True, reason, None, None, low, high)
        if not decision.answers[key]:
            return Cell(group, n, False, reason, None, None)
        raw = [int(decision.slice.truth()[cut.columns(key, [p])].sum()) if p >= 0 else 0
               for p in answer_position]
        counts = dict(zip(option_list, raw, strict=True))
        pct = 100.0 * sum(raw[i] for i in favourable_positions) / n if n else None
        return Cell(group, n, False, None, counts, pct)

    def make_cell(group: dict[str, str]) -> Cell:
        wave = ({**fixed, **group}).get(wave_dim or "") if wave_dim else None
        if wave_dim is None or wave is not None:
            return wave_cell(group, wave)
        return _pooled(group, [wave_cell(group, w) for w in population.values(wave_dim)], option_list,
                       favourable_positions)

    groups: list[dict[str, str]] = [{}]
    for name in breakdown:
        groups.extend({name: value} for value in values_of(name))
    if len(breakdown) == 2:
        rows, columns = breakdown
        groups.extend({rows: row, columns: column}
                      for row in values_of(rows) for column in values_of(columns))
    return Release(k, breakdown, fixed, [make_cell(group) for group in groups])


def _pooled(group: dict[str, str], cells: list[Cell], options: list[str], favourable: list[int]) -> Cell:
    """A group pooled over waves: the sum of its per-wave figures (so no new fact)."""
    if any(c.n is None and c.low is None for c in cells):
        return Cell(group, None, True, "complementary", None, None)
    lows = [c.n if c.n is not None else c.low for c in cells]
    highs = [c.n if c.n is not None else c.high for c in cells]
    low, high = sum(v or 0 for v in lows), sum(v or 0 for v in highs)
    reason: Reason | None = next((c.reason for c in cells if c.reason), None)
    if low != high:
        return Cell(group, None, True, reason or "complementary", None, None, low, high)
    if any(c.counts is None and c.n for c in cells):
        return Cell(group, low, False, reason or "complementary", None, None)
    counts = {o: sum((c.counts or {}).get(o, 0) for c in cells) for o in options}
    pct = 100.0 * sum(counts[options[i]] for i in favourable) / low if low else None
    return Cell(group, low, False, None, counts, pct)
