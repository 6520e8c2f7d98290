"""An attacker who solves every released figure of a population as a linear (and integer)
programme, written without the product's code so that it can check it.

The attacker knows the category list of every dimension and the answer options, so its
unknowns are the respondents in every combination of categories and answer (the whole cube,
not the tables the product reasons about). Every released figure is a constraint ``low <= sum
of some unknowns <= high``: an exact count (low = high), a range ("between 40 and 49"), "fewer
than k" (0 to k - 1), a per-answer count, a favourable percentage (redundant with the counts it
comes from, so left out). A value missing from a released table that lists the others is taken
as a zero, as a reader would.

The attacker then asks scipy's HiGHS, for each group it can name (every conjunction of up to
three conditions, and each group of a released line minus one of its cells), for the least and
greatest number of people consistent with everything: a *disclosure* is a group of 1 to k - 1
people that is pinned, or bounded to between 1 and k - 1 (so known to be a small, non-empty
group), or whose members are proved all to have given one answer. It uses the linear relaxation
first and integer programming (`milp`) where the relaxation leaves a fractional bound near the
edge, so it finds everything an integer-programming attacker would, for these groups.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, product
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

Record = tuple[Mapping[str, str | None], str | None]


@dataclass(frozen=True)
class Figure:
    """One released fact: ``low <= n <= high`` for the people in ``conditions`` (with ``answer``,
    or any answer when None)."""

    conditions: tuple[tuple[str, str], ...]
    answer: str | None
    low: float
    high: float


@dataclass(frozen=True)
class Target:
    """A group the attacker tries to learn about: ``within`` minus ``minus`` (a conjunction, or a
    conjunction without one of its sub-groups)."""

    within: tuple[tuple[str, str], ...]
    minus: tuple[tuple[str, str], ...] | None = None

    def __str__(self) -> str:
        text = " and ".join(f"{d}={v}" for d, v in self.within) or "everyone"
        if self.minus is not None:
            text += " but not " + " and ".join(f"{d}={v}" for d, v in self.minus)
        return text


@dataclass(frozen=True)
class Disclosure:
    target: Target
    kind: str  # "pinned", "bounded" or "same answer"
    low: int
    high: int
    truth: int

    def __str__(self) -> str:
        return f"{self.kind}: {self.target} has {self.truth}, proved in [{self.low}, {self.high}]"


def label(raw: str | None) -> str:
    return "unknown" if raw is None or raw == "prefer-not" else raw


class World:
    """The attacker's unknowns: people per (category of each dimension, answer)."""

    def __init__(self, categories: Mapping[str, Sequence[str]], answers: Sequence[str]) -> None:
        self.dimensions = list(categories)
        self.categories = {d: list(v) for d, v in categories.items()}
        self.answers = list(answers)
        shape = [len(self.categories[d]) for d in self.dimensions] + [len(self.answers)]
        self.shape = tuple(shape)
        self.size = math.prod(shape)
        self._index = np.arange(self.size).reshape(self.shape)

    def columns(self, conditions: Iterable[tuple[str, str]], answer: str | None = None) -> np.ndarray:
        """Indices of the unknowns in the group (empty if a value is not a category)."""
        view: list[Any] = [slice(None)] * len(self.shape)
        for d, v in conditions:
            if v not in self.categories[d]:
                return np.zeros(0, dtype=np.int64)
            view[self.dimensions.index(d)] = self.categories[d].index(v)
        if answer is not None:
            view[-1] = self.answers.index(answer)
        return np.asarray(self._index[tuple(view)]).reshape(-1)

    def row(self, target: Target, answers: Sequence[str] | None = None) -> np.ndarray:
        """The group's people (with one of ``answers``) as a 0/1 vector over the unknowns."""
        vector = np.zeros(self.size)
        for answer in answers or [None]:
            vector[self.columns(target.within, answer)] += 1
            if target.minus is not None:
                vector[self.columns(target.minus, answer)] -= 1
        return vector

    def truth(self, records: Iterable[Record]) -> np.ndarray:
        x = np.zeros(self.size)
        for values, answer in records:
            if answer is None:
                continue
            cell = tuple(self.categories[d].index(label(values.get(d))) for d in self.dimensions)
            x[np.ravel_multi_index((*cell, self.answers.index(answer)), self.shape)] += 1
        return x


def figures_of_table(table: Any, options: Sequence[str]) -> list[Figure]:
    """The facts one released table (`analysis.disclosure.Release`) states, read as a reader
    would: exact counts, ranges, "fewer than k", per-answer counts."""
    out = []
    for cell in table.cells:
        conditions = tuple(sorted({**table.where, **cell.group}.items()))
        low = getattr(cell, "low", None)
        high = getattr(cell, "high", None)
        if cell.n is not None:
            out.append(Figure(conditions, None, cell.n, cell.n))
        elif low is not None and high is not None:
            out.append(Figure(conditions, None, low, high))
        if cell.counts is not None:
            out += [Figure(conditions, o, cell.counts.get(o, 0), cell.counts.get(o, 0)) for o in options]
    return out


def missing_values(tables: Iterable[Any], categories: Mapping[str, Sequence[str]]) -> list[Figure]:
    """A breakdown that lists some categories and not others says the others are empty."""
    out = []
    for table in tables:
        for dim in table.by:
            listed = {c.group[dim] for c in table.cells if dim in c.group}
            out += [Figure(tuple(sorted({**table.where, dim: v}.items())), None, 0, 0)
                    for v in categories[dim] if v not in listed]
    return out


def naive_release(records: Sequence[Record], categories: Mapping[str, Sequence[str]],
                  options: Sequence[str], k: int, groups: Iterable[tuple[tuple[str, str], ...]],
                  ) -> list[Figure]:
    """A k-only release of ``groups``: n and answer counts of every group of at least k people
    and of every empty group; nothing about the others."""
    out = []
    for conditions in groups:
        members = [a for v, a in records if a is not None
                   and all(label(v.get(d)) == value for d, value in conditions)]
        if len(members) == 0 or len(members) >= k:
            counts = Counter(members)
            out.append(Figure(conditions, None, len(members), len(members)))
            out += [Figure(conditions, o, counts[o], counts[o]) for o in options]
    return out


def conjunctions(categories: Mapping[str, Sequence[str]], most: int,
                 ) -> Iterator[tuple[tuple[str, str], ...]]:
    dims = list(categories)
    for size in range(most + 1):
        for chosen in combinations(dims, size):
            for values in product(*(categories[d] for d in chosen)):
                yield tuple(zip(chosen, values, strict=True))


class Attacker:
    """Solves a set of released figures for every group it can name."""

    def __init__(self, world: World, figures: Sequence[Figure], k: int) -> None:
        self.world = world
        self.k = k
        row_ids, column_ids, low, high = [], [], [], []
        for i, f in enumerate(figures):
            columns = world.columns(f.conditions, f.answer)
            row_ids.append(np.full(columns.size, i))
            column_ids.append(columns)
            low.append(f.low)
            high.append(f.high)
        data = np.concatenate(column_ids) if column_ids else np.zeros(0, dtype=np.int64)
        self.matrix = sparse.csr_matrix(
            (np.ones(data.size), (np.concatenate(row_ids) if row_ids else data, data)),
            shape=(len(figures), world.size))
        self.low = np.array(low, dtype=float)
        self.high = np.array(high, dtype=float)
        # Nobody can be in more groups than there are people: bound the unknowns by the largest
        # figure (or a generous multiple when nothing bounds them).
        finite = self.high[np.isfinite(self.high)]
        self.cap = float(finite.max()) if finite.size else 1e6

    def _solve(self, objective: np.ndarray, *, integer: bool) -> float:
        if integer:
            constraints = [LinearConstraint(self.matrix, self.low, self.high)] if self.low.size else []
            result = milp(objective, integrality=np.ones(self.world.size), bounds=Bounds(0, self.cap),
                          constraints=constraints, options={"time_limit": 20})
            assert result.x is not None, result.message
            return float(result.fun)
        a_ub = sparse.vstack([self.matrix, -self.matrix]) if self.low.size else None
        b_ub = np.concatenate([self.high, -self.low]) if self.low.size else None
        result = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(0, self.cap), method="highs")
        assert result.status == 0, result.message
        return float(result.fun)

    def least(self, vector: np.ndarray) -> int:
        """The least value of ``vector . x`` over every integer solution."""
        low = self._solve(vector, integer=False)
        if low > 1e-6 and abs(low - round(low)) > 1e-6:
            low = self._solve(vector, integer=True)
        return math.ceil(low - 1e-6)

    def most(self, vector: np.ndarray) -> int:
        """The greatest value of ``vector . x`` over every integer solution."""
        high = -self._solve(-vector, integer=False)
        if high < self.cap and abs(high - round(high)) > 1e-6:
            high = -self._solve(-vector, integer=True)
        return math.floor(high + 1e-6)

    def attack(self, records: Sequence[Record], targets: Iterable[Target]) -> list[Disclosure]:
        """Every target of 1 to k - 1 people pinned or bounded below k, and every target whose
        members are proved to have given one answer."""
        truth = self.world.truth(records)
        found = []
        for target in targets:
            everyone = self.world.row(target)
            n = round(everyone @ truth)
            if n <= 0:
                continue
            per_answer = [self.world.row(target, [a]) @ truth for a in self.world.answers]
            alike = [a for a, c in zip(self.world.answers, per_answer, strict=True) if c == n]
            if n >= self.k and not alike:
                continue
            low = self.least(everyone)
            if low < 1:
                continue
            if n < self.k:
                high = self.most(everyone)
                if high < self.k:
                    found.append(Disclosure(target, "pinned" if low == high else "bounded", low, high, n))
                    continue
            if alike:
                others = self.world.row(target, [a for a in self.world.answers if a != alike[0]])
                if self.most(others) == 0:
                    found.append(Disclosure(target, "same answer", low, low, n))
        return found


def targets_for(categories: Mapping[str, Sequence[str]], lines: Iterable[tuple[tuple[tuple[str, str], ...],
                                                                           tuple[tuple[str, str], ...]]],
                most: int = 3) -> list[Target]:
    """Every conjunction of up to ``most`` conditions, and each (margin minus cell) of ``lines``."""
    found = [Target(c) for c in conjunctions(categories, most) if c]
    found += [Target(margin, cell) for margin, cell in lines]
    return found


def lines_of_figures(figures: Iterable[Figure]) -> list[tuple[tuple[tuple[str, str], ...],
                                                               tuple[tuple[str, str], ...]]]:
    """(margin, cell) pairs among the count figures: a cell is the margin plus one condition."""
    groups = {f.conditions for f in figures if f.answer is None}
    out = []
    for cell in groups:
        for i in range(len(cell)):
            margin = cell[:i] + cell[i + 1:]
            if margin in groups:
                out.append((margin, cell))
    return out


OPTIONS = ("strongly disagree", "disagree", "neither", "agree", "strongly agree")
FAVOURABLE = ("agree", "strongly agree")
CATEGORIES: dict[str, list[str]] = {
    "ethnicity": ["asian", "black", "unknown", "white"],
    "band": ["5", "6", "7", "8a", "unknown"],
    "staff_group": ["admin", "estates", "medical", "nursing", "unknown"],
    "directorate": ["medicine", "surgery", "unknown"],
}


def population(seed: int, size: int = 300, k: int = 11) -> list[Record]:
    """A skewed random population of ``size`` respondents with planted small groups: one group of
    each size 1 to 10 and one of exactly k (each a band or staff group within a directorate or an
    ethnicity), a directorate all but a few of whose people share one band (the complement of a
    small group), and a small group that all gave one answer."""
    rng = np.random.default_rng(seed)
    dims = list(CATEGORIES)
    weights = {d: rng.random(len(CATEGORIES[d])) ** 2 + 0.02 for d in dims}
    weights["ethnicity"][-1] += 2  # most staff are White
    records: list[Record] = []

    def person(**fixed: str) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for d in dims:
            p = weights[d] / weights[d].sum()
            values[d] = fixed.get(d) or str(rng.choice(CATEGORIES[d], p=p))
        for d, v in values.items():
            if v == "unknown":
                values[d] = None
        return values

    def answer() -> str:
        return str(rng.choice(OPTIONS, p=[0.1, 0.15, 0.2, 0.35, 0.2]))

    for _ in range(size):
        records.append((person(), answer()))
    # Planted: give a rare value exactly s people by re-labelling.
    plants = [("band", "8a"), ("staff_group", "estates"), ("ethnicity", "black"), ("staff_group", "admin")]
    for s, (dim, value) in zip(rng.permutation([*list(range(1, 11)), k])[:4], plants, strict=True):
        others = [r for r in records if r[0][dim] == value]
        for values, _ in others:
            values[dim] = CATEGORIES[dim][0]
        chosen = rng.choice(len(records), size=int(s), replace=False)
        for i in chosen:
            records[i][0][dim] = value
    # Complement: everyone in surgery is band 5 but for s people.
    s = int(rng.integers(1, k))
    surgery = [r for r in records if r[0]["directorate"] == "surgery"]
    for i, (values, _) in enumerate(surgery):
        values["band"] = "5" if i >= s else "6"
    # A group (Asian staff in medicine, more than k) who all answered alike.
    for i in rng.choice(len(records), size=k + 3, replace=False):
        records[i][0].update(ethnicity="asian", directorate="medicine")
    for i, (values, _) in enumerate(records):
        if values["ethnicity"] == "asian" and values["directorate"] == "medicine":
            records[i] = (values, "strongly disagree")
    return records
