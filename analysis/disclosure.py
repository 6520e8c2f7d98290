"""Disclosure control: the one gate every survey aggregate passes before anyone sees it.

Every figure the platform shows (page, CSV, CLI, API) comes from `release`. Its input is one
question's respondent-level data reduced to *atoms* (counts of identical records, what a SQL
``GROUP BY`` of every dimension and the answer gives), wrapped in a `Population`. Build it from
all of the question's responses, every wave included: the rules below protect against
differencing only within the population they are given. `release` refuses any query whose
groups fall outside the policy's query space.

Terms
-----
A *group* is a conjunction of conditions ``dimension = value`` on distinct dimensions; ``n(G)`` is
the number of respondents to the question in it (a skipped answer is not a response). Missing
demographic values (``None``) and ``"prefer-not"`` are one value of their own, ``"unknown"``.

The *query space* of a `Policy` is every group whose conditions, leaving aside one condition on
``policy.wave_dim``, number at most ``max_breakdown_dims``, or ``max_breakdown_dims + 1`` when one
of them is on a dimension in ``filter_dims``. Groups without a wave condition (pooled over waves:
the margins of a table broken down by wave) and the empty conjunction (everyone) are in it too.

A *line* is a margin group M and a dimension d that M does not fix, such that the groups
``M and d = v`` are in the query space; its cells are ``M and d = v`` for every value v of d in the
population. Every released table is made of lines: a 1-D table by ``a`` (filter F) is the line
(F, a); a 2-D table by (a, b) is its rows (F and a = v, b), its columns (F and b = u, a) and the
lines (F, a) and (F, b) of its margins.

G is *pure* in dimension d when all of G's respondents share one value v of d; G's record set is
then the same as that of ``G and d = v``. So the groups of the query space that contain G as a set
of records are exactly the conjunctions, within the query space, of G's pure (dimension, value)
pairs (its own conditions included), and two groups have the same record set exactly when they
have the same pure pairs.

Rules, as enforced
------------------
Decisions are made once for the whole query space (memoised per population and policy), so they
depend only on the population and the policy, never on which query asks: repeated or overlapping
queries reveal nothing new. Groups with the same record set always get the same decision.

1. Minimum cell size. A group with ``0 < n < k`` is suppressed (reason ``"below k"``): none of its
   n, distribution or percentage is shown. An empty group is shown as 0.
2. Differencing. A group G with ``n >= k`` is suppressed (reason ``"differencing"``) if some group P
   of the query space containing G as a record set has ``0 < n(P) - n(G) < k``, whether or not P
   is itself shown.
3. Complementary suppression (counts), for every line of the query space, not only those of the
   table asked for: if its margin is shown and some cells are suppressed, at least two are, and
   their total ``n(M) - sum of shown cells`` is at least k; if its margin is suppressed (and not
   empty), at least one non-empty cell is suppressed (else the cells would add up to it). A
   failing line gets its smallest shown non-empty cell suppressed (ties: first in value order),
   or, if it has none, its margin (reason ``"complementary"``); this repeats over all lines, with
   suppression copied to every group with the same record set, until nothing changes. Empty
   cells are never suppressed, so every suppressed cell is known to be non-empty.
4. Same answer. A group whose respondents all gave one answer keeps its n but its distribution
   and percentage are hidden (reason ``"same answer"``); so are G's if some P of rule 2 has
   ``P - G`` non-empty with all its respondents giving one answer. Distributions add up like
   counts, so rule 3 applies to them as well: in every line whose margin's distribution is shown,
   hidden cell distributions are none or at least two and their combined distribution (margin
   minus shown cells) is not all one answer; a line whose margin's distribution is hidden has at
   least one non-empty cell's distribution hidden. A failing line gets its smallest shown
   non-empty cell's distribution hidden, or else its margin's (reason ``"complementary"`` with
   n still shown), to a fixpoint as in rule 3. A suppressed group's distribution is always hidden.
5. Rounding. With ``round_to = r`` every shown count (n and each answer's count) is rounded to the
   nearest multiple of r (halves up), after all decisions; percentages are computed from the
   unrounded counts, so they need not match the rounded counts exactly.

Not defended
------------
Rules 2 and 3 check pairs of groups and single lines. An attacker who combines many tables into
a system of linear equations and inequalities (for example every suppressed cell of a 2-D table
with its rows and columns, or disjoint groups from different dimensions) can still narrow a
suppressed cell to an interval, and knows each suppressed cell is at least 1 (zeros are shown).
Each question is controlled on its own: n for one group can differ between questions by the few
who skipped one of them. There is no noise (cell-key perturbation); free text is out of scope.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from operator import itemgetter
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from analysis import AnalysisError

UNKNOWN: Final = "unknown"
PREFER_NOT: Final = "prefer-not"

Reason = Literal["below k", "differencing", "complementary", "same answer"]

_Bools = npt.NDArray[np.bool_]
_Ints = npt.NDArray[np.int64]
_Codes = npt.NDArray[np.int8]
_DimSet = tuple[int, ...]
_Index = tuple[int, ...]
_Member = tuple[_DimSet, _Index]

_NO_REASON: Final = 0
_BELOW_K: Final = 1
_DIFFERENCING: Final = 2
_COMPLEMENTARY: Final = 3
_SAME_ANSWER: Final = 4
_REASONS: Final[dict[int, Reason]] = {
    _BELOW_K: "below k",
    _DIFFERENCING: "differencing",
    _COMPLEMENTARY: "complementary",
    _SAME_ANSWER: "same answer",
}
# The whole (dimensions x answers) cube is kept when it is at most this many cells; above it every
# marginal is counted from the atoms. No single marginal may exceed the second limit.
_MAX_CUBE_CELLS: Final = 1 << 22
_MAX_TABLE_CELLS: Final = 1 << 23
_INT_MAX: Final = np.iinfo(np.int64).max


class DisclosureError(AnalysisError):
    """A policy, population or query that disclosure control cannot accept."""


@dataclass(frozen=True)
class Policy:
    """What may be shown: the minimum cell size, rounding and the query space.

    ``k``: minimum number of respondents in any shown group (NHS Staff Survey: 11).
    ``round_to``: round shown counts to this multiple (NHS Digital style: 5), or None.
    ``max_breakdown_dims``: breakdown dimensions per group, besides the filter and the wave.
    ``filter_dims``: dimensions one extra condition may use (e.g. directorate).
    ``wave_dim``: the dimension every query fixes or breaks down by; it has its own slot in the
    query space. None, or a name the population lacks, means no such slot.
    """

    k: int = 11
    round_to: int | None = None
    max_breakdown_dims: int = 2
    filter_dims: frozenset[str] = frozenset()
    wave_dim: str | None = "wave"

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 2:
            raise DisclosureError(f"k must be an integer of at least 2, not {self.k!r}")
        if self.round_to is not None and (
            isinstance(self.round_to, bool) or not isinstance(self.round_to, int) or self.round_to < 1
        ):
            raise DisclosureError(f"round_to must be a positive integer or None, not {self.round_to!r}")
        if not isinstance(self.max_breakdown_dims, int) or self.max_breakdown_dims < 0:
            raise DisclosureError("max_breakdown_dims must be a non-negative integer")
        if not isinstance(self.filter_dims, frozenset):
            object.__setattr__(self, "filter_dims", frozenset(self.filter_dims))


@dataclass(frozen=True)
class Cell:
    """One group of a released table.

    ``group``: the breakdown values (``{}`` for the table's total; the query's ``where`` is on the
    `Release`). ``n``: respondents, or None when suppressed. ``suppressed``: n is hidden.
    ``reason``: why n or the distribution is hidden, or None. ``counts``: respondents per answer
    option, or None when hidden. ``favourable_pct``: percentage choosing a favourable option, from
    unrounded counts, or None when hidden or the group is empty.
    """

    group: dict[str, str]
    n: int | None
    suppressed: bool
    reason: Reason | None
    counts: dict[str, int] | None
    favourable_pct: float | None


@dataclass(frozen=True)
class Release:
    """A table that has passed disclosure control: the total first, then every breakdown cell.

    For a 2-D table the cells are the total, each row margin, each column margin, then the
    interior row by row. ``round_to`` says whether shown counts were rounded.
    """

    k: int
    round_to: int | None
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


class _FirstSeen(dict[object, int]):
    """Codes values in order of first appearance (``map(codes.__getitem__, column)`` runs in C)."""

    def __missing__(self, key: object) -> int:
        code = self[key] = len(self)
        return code


def _demographic_label(raw: object) -> str:
    return UNKNOWN if raw is None or raw == PREFER_NOT else str(raw)


def _encode(
    column: Iterator[object], size: int, label: Callable[[object], str | None]
) -> tuple[_Ints, list[str]]:
    """Integer codes in sorted label order for ``column``; code -1 where ``label`` gives None."""
    first_seen = _FirstSeen()
    raw_codes = np.fromiter(map(first_seen.__getitem__, column), dtype=np.int64, count=size)
    labels = [label(raw) for raw in first_seen]
    ordered = sorted({name for name in labels if name is not None})
    position = {name: i for i, name in enumerate(ordered)}
    remap = np.array([-1 if name is None else position[name] for name in labels] or [0], dtype=np.int64)
    return remap[raw_codes], ordered


class _Marginals:
    """Memoised dense marginal tables ``dims -> counts[value of each dim..., answer]``."""

    def __init__(
        self, codes: _Ints, answers: _Ints, counts: _Ints, cards: tuple[int, ...], options: int
    ) -> None:
        self.cards = cards
        self.options = options
        self._codes = codes
        self._answers = answers
        self._counts = counts
        self._tables: dict[_DimSet, _Ints] = {}
        self._sizes: dict[_DimSet, _Ints] = {}
        everything = tuple(range(len(cards)))
        if math.prod(cards) * options <= _MAX_CUBE_CELLS:
            self._tables[everything] = self._count_atoms(everything)

    def _count_atoms(self, dims: _DimSet) -> _Ints:
        shape = (*(self.cards[d] for d in dims), self.options)
        cells = math.prod(shape)
        if cells > _MAX_TABLE_CELLS:
            raise DisclosureError(f"a table of {cells} cells is too large for disclosure control")
        key = np.zeros(len(self._answers), dtype=np.int64)
        for d in dims:
            key = key * self.cards[d] + self._codes[:, d]
        key = key * self.options + self._answers
        flat = np.bincount(key, weights=self._counts, minlength=cells)
        return flat.astype(np.int64).reshape(shape)

    def counts(self, dims: _DimSet) -> _Ints:
        """Respondents per (value of each of ``dims``, in order; answer)."""
        table = self._tables.get(dims)
        if table is not None:
            return table
        wanted = set(dims)
        source: _DimSet | None = None
        for held, held_table in self._tables.items():
            if wanted <= set(held) and (source is None or held_table.size < self._tables[source].size):
                source = held
        if source is None:
            table = self._count_atoms(dims)
        else:
            drop = tuple(axis for axis, d in enumerate(source) if d not in wanted)
            table = self._tables[source].sum(axis=drop, dtype=np.int64) if drop else self._tables[source]
        self._tables[dims] = table
        return table

    def sizes(self, dims: _DimSet) -> _Ints:
        """Respondents per value of each of ``dims``."""
        size = self._sizes.get(dims)
        if size is None:
            size = self._sizes[dims] = self.counts(dims).sum(axis=-1, dtype=np.int64)
        return size

    def pure_values(self, dims: _DimSet, wanted: _Bools) -> dict[int, _Ints]:
        """For each other dimension d: per group on ``dims`` where ``wanted``, the one value of d its
        respondents share, or -1 (several values, nobody, or not wanted)."""
        shape = tuple(self.cards[d] for d in dims)
        others = [d for d in range(len(self.cards)) if d not in dims]
        if tuple(range(len(self.cards))) in self._tables:
            # The cube is small: count the groups of dims plus d directly.
            found = {}
            for d in others:
                wider = tuple(sorted((*dims, d)))
                axis = wider.index(d)
                present = self.sizes(wider) > 0
                found[d] = np.where(wanted & (present.sum(axis=axis) == 1), present.argmax(axis=axis), -1)
            return found
        # Many dimensions: sort the atoms by group and take each dimension's least and greatest value.
        key = np.zeros(len(self._answers), dtype=np.int64)
        for d in dims:
            key = key * self.cards[d] + self._codes[:, d]
        order = np.flatnonzero(wanted.reshape(-1)[key])
        order = order[np.argsort(key[order], kind="stable")]
        key = key[order]
        found = {d: np.full(shape, -1, dtype=np.int64) for d in others}
        if key.size == 0:
            return found
        starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        codes = self._codes[order][:, others]
        low = np.minimum.reduceat(codes, starts, axis=0)
        high = np.maximum.reduceat(codes, starts, axis=0)
        for column, d in enumerate(others):
            pure = low[:, column] == high[:, column]
            found[d].reshape(-1)[key[starts][pure]] = low[pure, column]
        return found


@dataclass(frozen=True)
class _Space:
    """The query space of a policy over one population's dimensions (by index)."""

    cards: tuple[int, ...]
    wave: int | None
    filters: frozenset[int]
    breakdowns: int
    sets: tuple[_DimSet, ...]
    memo: dict[tuple[_DimSet, _DimSet], tuple[_DimSet, ...]] = field(default_factory=dict, compare=False)

    @classmethod
    def build(cls, dimensions: Sequence[str], cards: tuple[int, ...], policy: Policy) -> _Space:
        wave = dimensions.index(policy.wave_dim) if policy.wave_dim in dimensions else None
        filters = frozenset(i for i, name in enumerate(dimensions) if name in policy.filter_dims)
        bare = cls(cards, wave, filters, policy.max_breakdown_dims, ())
        widest = min(len(dimensions), policy.max_breakdown_dims + 2)
        sets = tuple(
            dims
            for size in range(widest, -1, -1)
            for dims in combinations(range(len(dimensions)), size)
            if bare.contains(dims)
        )
        return cls(cards, wave, filters, policy.max_breakdown_dims, sets)

    def around(self, own: _DimSet, pure: _DimSet) -> tuple[_DimSet, ...]:
        """The dimension sets of the space within ``pure`` (sorted) that are not within ``own``."""
        memo = self.memo.get((own, pure))
        if memo is None:
            widest = min(len(pure), self.breakdowns + 2)
            memo = self.memo[(own, pure)] = tuple(
                wider
                for size in range(1, widest + 1)
                for wider in combinations(pure, size)
                if not set(own).issuperset(wider) and self.contains(wider)
            )
        return memo

    def contains(self, dims: _DimSet) -> bool:
        """Whether a conjunction on ``dims`` is in the query space."""
        rest = [d for d in dims if d != self.wave]
        if len(rest) <= self.breakdowns:
            return True
        return len(rest) == self.breakdowns + 1 and any(d in self.filters for d in rest)


@dataclass(frozen=True)
class _PureGroup:
    """A group (n >= k) pure in some dimension it does not fix: its pure pairs, and the groups of
    the space that contain it only through an extra pure pair."""

    dims: _DimSet
    index: _Index
    pairs: tuple[tuple[int, int], ...]
    supersets: tuple[tuple[_DimSet, _Index], ...]

    @classmethod
    def of(cls, dims: _DimSet, index: _Index, pairs: dict[int, int], space: _Space) -> _PureGroup:
        supersets = tuple(
            (wider, tuple(pairs[d] for d in wider)) for wider in space.around(dims, tuple(sorted(pairs)))
        )
        return cls(dims, index, tuple(sorted(pairs.items())), supersets)


@dataclass(frozen=True)
class _Verdicts:
    suppressed: dict[_DimSet, _Bools]
    hidden: dict[_DimSet, _Bools]
    reasons: dict[_DimSet, _Codes]


def _expand(table: _Ints, sub: _DimSet, dims: _DimSet, cards: tuple[int, ...]) -> _Ints:
    """``table`` over ``sub`` (a subset of ``dims``) reshaped to broadcast against ``dims``."""
    shape = [cards[d] if d in sub else 1 for d in dims]
    return table.reshape((*shape, *table.shape[len(sub) :]))


def _proper_subsets(dims: _DimSet) -> Iterator[_DimSet]:
    for size in range(len(dims)):
        yield from combinations(dims, size)


def _pure_groups(tables: _Marginals, space: _Space, k: int) -> list[_PureGroup]:
    """Every group of the space with n >= k that is pure in a dimension it does not fix."""
    found: list[_PureGroup] = []
    for dims in space.sets:
        eligible = tables.sizes(dims) >= k
        if not eligible.any():
            continue
        extra = list(tables.pure_values(dims, eligible).items())
        any_pure = np.zeros(eligible.shape, dtype=np.bool_)
        for _, value in extra:
            any_pure |= value >= 0
        for found_index in np.argwhere(any_pure):
            index = tuple(int(i) for i in found_index)
            pairs = dict(zip(dims, index, strict=True))
            for d, value in extra:
                if value[index] >= 0:
                    pairs[d] = int(value[index])
            found.append(_PureGroup.of(dims, index, pairs, space))
    return found


def _record_classes(pure: list[_PureGroup], space: _Space) -> list[list[_Member]]:
    """Sets of two or more groups of the space with the same record set (hence the same pure pairs)."""
    members: dict[tuple[tuple[int, int], ...], list[_Member]] = {}
    for group in pure:
        members.setdefault(group.pairs, []).append((group.dims, group.index))
    for pairs, same in members.items():
        dims = tuple(d for d, _ in pairs)
        if space.contains(dims):
            same.append((dims, tuple(v for _, v in pairs)))
    return [same for same in members.values() if len(same) > 1]


def _below_k(tables: _Marginals, space: _Space, k: int) -> dict[_DimSet, _Bools]:
    """Rule 1: non-empty groups with fewer than k respondents."""
    return {dims: (tables.sizes(dims) > 0) & (tables.sizes(dims) < k) for dims in space.sets}


def _differencing(tables: _Marginals, space: _Space, pure: list[_PureGroup], k: int) -> dict[_DimSet, _Bools]:
    """Rule 2: groups (n >= k) with a superset P in the space such that 0 < n(P) - n(G) < k."""
    flags: dict[_DimSet, _Bools] = {}
    for dims in space.sets:
        size = tables.sizes(dims)
        flag = np.zeros(size.shape, dtype=np.bool_)
        for sub in _proper_subsets(dims):
            gap = _expand(tables.sizes(sub), sub, dims, space.cards) - size
            flag |= (gap > 0) & (gap < k)
        flags[dims] = flag & (size >= k)
    for group in pure:
        own = int(tables.sizes(group.dims)[group.index])
        for wider, index in group.supersets:
            difference = int(tables.sizes(wider)[index]) - own
            if 0 < difference < k:
                flags[group.dims][group.index] = True
                break
    return flags


def _same_answer(tables: _Marginals, space: _Space, pure: list[_PureGroup]) -> dict[_DimSet, _Bools]:
    """Rule 4: groups all giving one answer, or with a superset P where P - G all gave one answer."""
    flags: dict[_DimSet, _Bools] = {}
    for dims in space.sets:
        counts = tables.counts(dims)
        size = tables.sizes(dims)
        flag = (size > 0) & (counts.max(axis=-1) == size)
        for sub in _proper_subsets(dims):
            gap_counts = _expand(tables.counts(sub), sub, dims, space.cards) - counts
            gap = _expand(tables.sizes(sub), sub, dims, space.cards) - size
            flag |= (gap > 0) & (gap_counts.max(axis=-1) == gap)
        flags[dims] = flag & (size > 0)
    for group in pure:
        own_counts = tables.counts(group.dims)[group.index].tolist()
        for wider, index in group.supersets:
            difference = [
                a - b for a, b in zip(tables.counts(wider)[index].tolist(), own_counts, strict=True)
            ]
            left = sum(difference)
            if left > 0 and max(difference) == left:
                flags[group.dims][group.index] = True
                break
    return flags


_Unsafe = Callable[[_DimSet, int, _Bools], _Bools]


def _propagate(
    classes: list[list[_Member]], flags: dict[_DimSet, _Bools], reasons: dict[_DimSet, _Codes]
) -> set[_DimSet]:
    """Copy a flag to every group with the same record set; the tables that changed."""
    changed: set[_DimSet] = set()
    for same in classes:
        if any(flags[dims][index] for dims, index in same):
            for dims, index in same:
                if not flags[dims][index]:
                    flags[dims][index] = True
                    if reasons[dims][index] == _NO_REASON:
                        reasons[dims][index] = _COMPLEMENTARY
                    changed.add(dims)
    return changed


def _hidden_margin_unsafe(tables: _Marginals, margin_dims: _DimSet, axis: int, cells: _Bools) -> _Bools:
    """Lines whose hidden, non-empty margin has every cell shown: the cells add up to it."""
    result: _Bools = (tables.sizes(margin_dims) > 0) & ~cells.any(axis=axis)
    return result


def _complete_lines(
    tables: _Marginals,
    space: _Space,
    classes: list[list[_Member]],
    flags: dict[_DimSet, _Bools],
    reasons: dict[_DimSet, _Codes],
    unsafe: _Unsafe,
) -> None:
    """Hide more cells (smallest first) or margins until every line of the space is safe.

    A line whose margin is shown is unsafe where ``unsafe`` says so for its hidden cells; a line
    whose non-empty margin is hidden is unsafe when all its cells are shown.
    """
    version = dict.fromkeys(space.sets, 0)
    checked: dict[tuple[_DimSet, int], tuple[int, int]] = {}
    families = [
        (wide, axis, wide[:axis] + wide[axis + 1 :]) for wide in space.sets for axis in range(len(wide))
    ]
    changed = True
    while changed:
        changed = False
        for wide, axis, margin_dims in families:
            stamp = (version[wide], version[margin_dims])
            if checked.get((wide, axis)) == stamp:
                continue
            cells = flags[wide]
            margin = flags[margin_dims]
            bad = np.where(
                margin, _hidden_margin_unsafe(tables, margin_dims, axis, cells), unsafe(wide, axis, cells)
            )
            if bad.any():
                size = tables.sizes(wide)
                candidates = (size > 0) & ~cells
                has_candidate = candidates.any(axis=axis)
                pick = np.expand_dims(np.where(candidates, size, _INT_MAX).argmin(axis=axis), axis)
                fix_cell = np.expand_dims(bad & has_candidate, axis)
                np.put_along_axis(cells, pick, np.take_along_axis(cells, pick, axis) | fix_cell, axis)
                margin |= bad & ~has_candidate
                for dims in (wide, margin_dims):
                    reasons[dims][flags[dims] & (reasons[dims] == _NO_REASON)] = _COMPLEMENTARY
                    version[dims] += 1
                changed = True
            else:
                checked[(wide, axis)] = stamp
        for dims in _propagate(classes, flags, reasons):
            version[dims] += 1
            changed = True


def _complete_count_lines(
    tables: _Marginals,
    space: _Space,
    classes: list[list[_Member]],
    suppressed: dict[_DimSet, _Bools],
    reasons: dict[_DimSet, _Codes],
    k: int,
) -> None:
    """Rule 3 for counts: hidden cells of a shown margin's line number 0 or >= 2 and total >= k."""

    def unsafe(wide: _DimSet, axis: int, hidden: _Bools) -> _Bools:
        count = hidden.sum(axis=axis)
        total = np.where(hidden, tables.sizes(wide), 0).sum(axis=axis)
        result: _Bools = (count == 1) | ((count > 0) & (total < k))
        return result

    _complete_lines(tables, space, classes, suppressed, reasons, unsafe)


def _complete_distribution_lines(
    tables: _Marginals,
    space: _Space,
    classes: list[list[_Member]],
    hidden: dict[_DimSet, _Bools],
    reasons: dict[_DimSet, _Codes],
) -> None:
    """Rule 4 in lines: hidden distributions number 0 or >= 2 and together are not one answer."""

    def unsafe(wide: _DimSet, axis: int, hidden_cells: _Bools) -> _Bools:
        count = hidden_cells.sum(axis=axis)
        combined = np.where(hidden_cells[..., np.newaxis], tables.counts(wide), 0).sum(axis=axis)
        one_answer = combined.max(axis=-1) == combined.sum(axis=-1)
        result: _Bools = (count == 1) | ((count > 0) & one_answer)
        return result

    _complete_lines(tables, space, classes, hidden, reasons, unsafe)


def _decide(tables: _Marginals, space: _Space, k: int) -> _Verdicts:
    """Every decision for every group of the space (rules 1 to 4)."""
    # Count the widest tables first so that narrower ones are sums of small tables, not of the cube.
    for dims in sorted(space.sets, key=len, reverse=True):
        tables.counts(dims)
    pure = _pure_groups(tables, space, k)
    classes = _record_classes(pure, space)
    below = _below_k(tables, space, k)
    differencing = _differencing(tables, space, pure, k)
    suppressed = {dims: below[dims] | differencing[dims] for dims in space.sets}
    reasons: dict[_DimSet, _Codes] = {
        dims: np.select([below[dims], differencing[dims]], [_BELOW_K, _DIFFERENCING]).astype(np.int8)
        for dims in space.sets
    }
    _propagate(classes, suppressed, reasons)
    _complete_count_lines(tables, space, classes, suppressed, reasons, k)
    same = _same_answer(tables, space, pure)
    hidden = {dims: suppressed[dims] | same[dims] for dims in space.sets}
    for dims in space.sets:
        reasons[dims][same[dims] & (reasons[dims] == _NO_REASON)] = _SAME_ANSWER
    _propagate(classes, hidden, reasons)
    _complete_distribution_lines(tables, space, classes, hidden, reasons)
    return _Verdicts(suppressed, hidden, reasons)


class Population:
    """One question's responses as atoms; immutable. Build with `from_records` or `from_counts`.

    ``dimensions``: the demographic dimensions, in the caller's order. ``values(dim)``: the values
    respondents have, sorted (missing and ``"prefer-not"`` as ``"unknown"``). ``answers``: the answers
    given, sorted. ``respondents``: how many answered (skips are left out).
    """

    __slots__ = ("_answers", "_dimensions", "_respondents", "_tables", "_values", "_verdicts")

    def __init__(
        self,
        *,
        dimensions: tuple[str, ...],
        values: tuple[tuple[str, ...], ...],
        answers: tuple[str, ...],
        codes: _Ints,
        answer_codes: _Ints,
        counts: _Ints,
    ) -> None:
        self._dimensions = dimensions
        self._values = values
        self._answers = answers
        self._respondents = int(counts.sum())
        cards = tuple(len(v) for v in values)
        self._tables = _Marginals(codes, answer_codes, counts, cards, max(len(answers), 1))
        self._verdicts: dict[tuple[int, int, frozenset[str], str | None], _Verdicts] = {}

    @classmethod
    def from_records(
        cls, records: Iterable[tuple[Mapping[str, str | None], str | None]], dimensions: Sequence[str]
    ) -> Population:
        """A population from individual records ``(values by dimension, answer)``.

        A dimension missing from the mapping, None or ``"prefer-not"`` is ``"unknown"``; an answer
        of None is a skip and the record is left out.
        """
        names = _check_dimensions(dimensions)
        tally = Counter((tuple(values.get(name) for name in names), answer) for values, answer in records)
        return cls.from_counts([(*values, answer, n) for (values, answer), n in tally.items()], names)

    @classmethod
    def from_counts(cls, rows: Iterable[Sequence[object]], dimensions: Sequence[str]) -> Population:
        """A population from atoms as a SQL ``GROUP BY`` returns them, unchanged.

        Each row is ``(value of each dimension in order..., answer, count)``: the result of
        ``SELECT d1, ..., dn, answer, COUNT(*) ... GROUP BY d1, ..., dn, answer``. Values are
        compared as ``str(value)``; None and ``"prefer-not"`` are ``"unknown"``; rows with answer
        None (skips) are left out; repeated rows add up. The rows are not reshaped in Python, so
        building from a million-row cursor stays cheap.
        """
        names = _check_dimensions(dimensions)
        table = rows if isinstance(rows, list) else list(rows)
        width = len(names) + 2
        if table and set(map(len, table)) != {width}:
            raise DisclosureError(f"every row must have {width} fields: the dimensions, answer and count")
        size = len(table)
        columns = [_encode(map(itemgetter(j), table), size, _demographic_label) for j in range(len(names))]
        answer_codes, answers = _encode(
            map(itemgetter(width - 2), table), size, lambda raw: None if raw is None else str(raw)
        )
        try:
            counts = np.fromiter(map(itemgetter(width - 1), table), dtype=np.int64, count=size)
        except (TypeError, ValueError, OverflowError) as e:
            raise DisclosureError("counts must be integers") from e
        if (counts < 0).any():
            raise DisclosureError("counts must not be negative")
        kept = (answer_codes >= 0) & (counts > 0)
        columns.append((answer_codes, answers))
        used = [_drop_unused(codes[kept], labels) for codes, labels in columns]
        *dimension_columns, (answer_codes, answers) = used
        return cls(
            dimensions=names,
            values=tuple(tuple(labels) for _, labels in dimension_columns),
            answers=tuple(answers),
            codes=np.stack([c for c, _ in dimension_columns], axis=1)
            if dimension_columns
            else np.zeros((int(kept.sum()), 0), dtype=np.int64),
            answer_codes=answer_codes,
            counts=counts[kept],
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
        """The values of ``dimension`` in the population, sorted; DisclosureError if unknown."""
        return self._values[self._dimension_index(dimension)]

    def _dimension_index(self, dimension: str) -> int:
        try:
            return self._dimensions.index(dimension)
        except ValueError as e:
            raise DisclosureError(f"unknown dimension {dimension!r}") from e

    def _space(self, policy: Policy) -> _Space:
        return _Space.build(self._dimensions, self._tables.cards, policy)

    def _decisions(self, policy: Policy, space: _Space) -> _Verdicts:
        key = (policy.k, policy.max_breakdown_dims, policy.filter_dims, policy.wave_dim)
        verdicts = self._verdicts.get(key)
        if verdicts is None:
            verdicts = self._verdicts[key] = _decide(self._tables, space, policy.k)
        return verdicts


def _drop_unused(codes: _Ints, labels: list[str]) -> tuple[_Ints, list[str]]:
    """Codes and labels without the values no respondent has (skips and zero counts left out)."""
    present = np.bincount(codes, minlength=len(labels)) > 0
    if present.all():
        return codes, labels
    renumber = np.cumsum(present) - 1
    return renumber[codes], [label for label, keep in zip(labels, present, strict=True) if keep]


def _check_dimensions(dimensions: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dimensions)
    if isinstance(dimensions, str) or len(set(names)) != len(names):
        raise DisclosureError("dimensions must be a sequence of distinct names")
    return names


def _round(count: int, multiple: int | None) -> int:
    return count if multiple is None else math.floor(count / multiple + 0.5) * multiple


def release(
    population: Population,
    *,
    by: Sequence[str],
    where: Mapping[str, str],
    policy: Policy,
    options: Sequence[str],
    favourable: Collection[str],
) -> Release:
    """The table of ``population`` broken down ``by`` (0-2 dimensions) within ``where``, made safe.

    Every cell of the result obeys the module's rules under ``policy``; the decision for each group
    is the same whichever query shows it. The query must fix or break down by the wave dimension
    (when the population has one) and all its groups must lie in the policy's query space.
    ``options`` lists every possible answer in display order and must include every answer given;
    ``favourable`` (a subset of ``options``) feeds ``favourable_pct``. A ``where`` value absent from
    the population gives a table of empty cells. Raises DisclosureError for any invalid query.
    """
    breakdown = tuple(by)
    fixed = dict(where)
    indices = [population._dimension_index(name) for name in (*breakdown, *fixed)]
    if isinstance(by, str) or len(breakdown) > 2 or len(set(indices)) != len(indices):
        raise DisclosureError("by takes up to two dimensions, none of them also in where")
    if (
        policy.wave_dim in population.dimensions
        and policy.wave_dim not in breakdown
        and policy.wave_dim not in fixed
    ):
        raise DisclosureError(f"the query must fix or break down by {policy.wave_dim!r}")
    option_list = list(options)
    if len(set(option_list)) != len(option_list) or not set(population.answers) <= set(option_list):
        raise DisclosureError("options must be distinct and include every answer given")
    if not set(favourable) <= set(option_list):
        raise DisclosureError("favourable options must be among the options")
    space = population._space(policy)
    if not space.contains(tuple(sorted(indices))):
        raise DisclosureError("this query goes beyond the policy's query space")
    verdicts = population._decisions(policy, space)

    fixed_codes: dict[int, int] = {}
    empty = False
    for name, value in fixed.items():
        d = population._dimension_index(name)
        known = population.values(name)
        if value in known:
            fixed_codes[d] = known.index(value)
        else:
            empty = True
    answer_position = [population.answers.index(o) if o in population.answers else -1 for o in option_list]
    favourable_positions = [i for i, o in enumerate(option_list) if o in favourable]

    def make_cell(group: dict[str, str]) -> Cell:
        conditions = dict(fixed_codes)
        for name, value in group.items():
            conditions[population._dimension_index(name)] = population.values(name).index(value)
        dims = tuple(sorted(conditions))
        index = tuple(conditions[d] for d in dims)
        if empty or population._tables.sizes(dims)[index] == 0:
            zeros = dict.fromkeys(option_list, 0)
            return Cell(group, 0, False, None, zeros, None)
        code = int(verdicts.reasons[dims][index])
        reason = _REASONS.get(code)
        if verdicts.suppressed[dims][index]:
            return Cell(group, None, True, reason, None, None)
        n = int(population._tables.sizes(dims)[index])
        if verdicts.hidden[dims][index]:
            return Cell(group, _round(n, policy.round_to), False, reason, None, None)
        raw = population._tables.counts(dims)[index]
        per_option = [int(raw[p]) if p >= 0 else 0 for p in answer_position]
        counts = {o: _round(c, policy.round_to) for o, c in zip(option_list, per_option, strict=True)}
        pct = 100.0 * sum(per_option[i] for i in favourable_positions) / n
        return Cell(group, _round(n, policy.round_to), False, None, counts, pct)

    groups: list[dict[str, str]] = [{}]
    for name in breakdown:
        groups.extend({name: value} for value in population.values(name))
    if len(breakdown) == 2:
        rows, columns = breakdown
        groups.extend(
            {rows: row, columns: column}
            for row in population.values(rows)
            for column in population.values(columns)
        )
    return Release(policy.k, policy.round_to, breakdown, fixed, [make_cell(group) for group in groups])
