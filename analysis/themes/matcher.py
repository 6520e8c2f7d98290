"""The rule layer: phrase patterns over stems, limited by negation, hedging and hypotheticals.

`analyse` turns a comment into an `Analysis` (tokens, stems, and per token whether it lies in a
negation scope and how much hedges or hypotheticals weaken it); `RuleMatcher.match` finds the
taxonomy's patterns in it. Both are pure functions of the text and the taxonomy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from analysis.themes.taxonomy import Element, Pattern, ScopeRules, Taxonomy
from analysis.themes.text import CLAUSE_BREAK, SENTENCE_END, Stemmer, is_english, tokenise

_CACHE_LIMIT: Final = 100_000


@dataclass(slots=True)
class Analysis:
    """One comment, analysed.

    ``words``: lower-case tokens (``"."`` ends a sentence, ``","`` a clause); ``stems``: their
    stems; ``negated[i]``: token i lies in a negation scope; ``denied[i]``: token i lies in or
    before a denial ("never had a problem", "is not an issue"); ``factor[i]``: what hedges
    and hypotheticals leave of a match starting at token i (1.0 when neither applies);
    ``english``: whether the comment looked English (if not, nothing else is filled in);
    ``classes[i]``: the taxonomy word classes (macro names) token i belongs to.
    """

    words: list[str]
    stems: list[str]
    negated: list[bool]
    denied: list[bool]
    factor: list[float]
    english: bool
    classes: list[tuple[str, ...]] = field(default_factory=list)


@dataclass(slots=True)
class RuleHits:
    """What the rules found for one theme: noisy-or ``score`` of the matches, and their evidence."""

    score: float = 0.0
    evidence: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)


def _match_rest(elements: tuple[Element, ...], words: Sequence[str], stems: Sequence[str], k: int,
                position: int) -> int:
    """Index of the last token when ``elements[k:]`` match after ``position``, else -1."""
    if k == len(elements):
        return position
    element = elements[k]
    limit = min(len(words), position + 2 + element.gap)
    for j in range(position + 1, limit):
        stem = stems[j]
        if stem == SENTENCE_END:
            return -1
        if element.matches(words[j], stem):
            end = _match_rest(elements, words, stems, k + 1, j)
            if end >= 0:
                return end
    return -1


def _anchor(pattern: Pattern) -> frozenset[str] | None:
    """The smallest set of tokens one of which a comment must contain for ``pattern`` to match
    beyond its first element (None when every later element accepts prefixes or numbers)."""
    exact = [e.stems | e.words for e in pattern.elements[1:]
             if not (e.prefixes or e.word_prefixes or e.number)]
    return min(exact, key=len) if exact else None


class PatternIndex:
    """Patterns indexed by the tokens their first element accepts, for matching in one pass."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self._by_stem: dict[str, list[Pattern]] = {}
        self._by_word: dict[str, list[Pattern]] = {}
        self._scanned: list[Pattern] = []
        for pattern in patterns:
            first = pattern.elements[0]
            for stem in first.stems:
                self._by_stem.setdefault(stem, []).append(pattern)
            for word in first.words:
                self._by_word.setdefault(word, []).append(pattern)
            if first.prefixes or first.word_prefixes or first.number:
                self._scanned.append(pattern)
        self._order = {id(p): i for i, p in enumerate(patterns)}
        self._anchors = {id(p): _anchor(p) for p in patterns}
        self._starts: dict[str, tuple[tuple[Pattern, frozenset[str] | None], ...]] = {}

    def _starting(self, word: str, stem: str) -> tuple[tuple[Pattern, frozenset[str] | None], ...]:
        found = self._starts.get(word)
        if found is None:
            candidates = {id(p): p for p in self._by_stem.get(stem, ())}
            candidates.update((id(p), p) for p in self._by_word.get(word, ()))
            candidates.update((id(p), p) for p in self._scanned if p.elements[0].matches(word, stem))
            ordered = sorted(candidates.values(), key=lambda p: self._order[id(p)])
            found = tuple((p, self._anchors[id(p)]) for p in ordered)
            if len(self._starts) >= _CACHE_LIMIT:
                self._starts.clear()
            self._starts[word] = found
        return found

    def find(self, words: Sequence[str], stems: Sequence[str]) -> Iterator[tuple[Pattern, int, int]]:
        """Every (pattern, first token, last token) match, by first token then pattern order.

        Each pattern is matched at most once per starting token (the earliest way it fits).
        """
        present: set[str] | None = None
        for i, word in enumerate(words):
            stem = stems[i]
            if stem in (SENTENCE_END, CLAUSE_BREAK):
                continue
            for pattern, anchor in self._starting(word, stem):
                elements = pattern.elements
                if len(elements) == 1:
                    yield pattern, i, i
                    continue
                if anchor is not None:
                    if present is None:
                        present = set(words)
                        present.update(stems)
                    if anchor.isdisjoint(present):
                        continue
                end = _match_rest(elements, words, stems, 1, i)
                if end >= 0:
                    yield pattern, i, end


def evidence_text(words: Sequence[str], start: int, end: int) -> str:
    """The tokens ``start..end`` as readable text (punctuation attached to the word before)."""
    text = " ".join(words[start:end + 1])
    return text.replace(" ,", ",").replace(" .", ".")


class Scoper:
    """Computes negation scopes and hedge/hypothetical factors for a tokenised comment."""

    def __init__(self, rules: ScopeRules) -> None:
        self._rules = rules
        kinds: list[Pattern] = [*rules.hedges, *rules.hypotheticals, *rules.denials_before,
                                *rules.denials_after]
        self._index = PatternIndex(kinds)
        self._hedges = {id(p) for p in rules.hedges}
        self._hypotheticals = {id(p) for p in rules.hypotheticals}
        self._before = {id(p) for p in rules.denials_before}

    def scope(self, words: list[str], stems: list[str]) -> tuple[list[bool], list[bool], list[float]]:
        """``(negated, denied, factor)`` per token, as `Analysis` describes them."""
        rules = self._rules
        n = len(words)
        negated = [False] * n
        denied = [False] * n
        factor = [1.0] * n
        no_cue: set[int] = set()
        hedged_at: list[int] = []
        for pattern, start, end in self._index.find(words, stems):
            key = id(pattern)
            if key in self._hedges:
                hedged_at.append(start)
                no_cue.update(range(start, end + 1))
            elif key in self._hypotheticals:
                j = end + 1
                last = end + rules.hypothetical_window
                while j < n and j <= last and stems[j] not in (SENTENCE_END, CLAUSE_BREAK):
                    factor[j] *= rules.hypothetical_factor
                    j += 1
            elif key in self._before:
                for j in range(start, end + 1):
                    denied[j] = True
            else:
                j = start - 1
                while j >= 0 and stems[j] not in (SENTENCE_END, CLAUSE_BREAK):
                    denied[j] = True
                    j -= 1
        left = 0
        window = rules.negation_window
        for i in range(n):
            stem = stems[i]
            if stem in (SENTENCE_END, CLAUSE_BREAK) or stem in rules.clause_breaks:
                left = 0
                continue
            if stem == "and" and i + 1 < n and words[i + 1] in rules.and_breaks_before:
                left = 0
                continue
            if left:
                negated[i] = True
                left -= 1
            if stem in rules.negations and i not in no_cue:
                left = window
        done: set[int] = set()
        for start in hedged_at:
            j = start
            while j > 0 and stems[j - 1] != SENTENCE_END:
                j -= 1
            if j in done:
                continue
            done.add(j)
            while j < n and stems[j] != SENTENCE_END:
                factor[j] *= rules.hedge_factor
                j += 1
        return negated, denied, factor


class RuleMatcher:
    """Matches a taxonomy's patterns; reusable and not thread-safe (it memoises per token)."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._stemmer: Stemmer = taxonomy.stemmer
        self._scoper = Scoper(taxonomy.scope)
        self._index = PatternIndex(taxonomy.patterns)
        self._absent = PatternIndex(taxonomy.absent)
        self._lexicon: dict[str, tuple[str, tuple[str, ...]]] = {}

    def _lookup(self, word: str) -> tuple[str, tuple[str, ...]]:
        """The stem of a token and the word classes it belongs to (memoised)."""
        found = self._lexicon.get(word)
        if found is None:
            stem = self._stemmer.stem(word)
            classes = tuple(name for name, element in self.taxonomy.word_classes
                            if element.matches(word, stem))
            found = (stem, classes)
            if len(self._lexicon) >= _CACHE_LIMIT:
                self._lexicon.clear()
            self._lexicon[word] = found
        return found

    def analyse(self, text: str) -> Analysis:
        """Tokens, stems and scopes of ``text``; only tokens if it is not English."""
        words = tokenise(text)
        if not is_english(words):
            return Analysis(words, [], [], [], [], False)
        lookup = self._lookup
        looked_up = [lookup(w) for w in words]
        stems = [entry[0] for entry in looked_up]
        classes = [entry[1] for entry in looked_up]
        negated, denied, factor = self._scoper.scope(words, stems)
        return Analysis(words, stems, negated, denied, factor, True, classes)

    def matches(self, analysis: Analysis) -> Iterator[tuple[Pattern, int, int]]:
        """Every raw pattern match ``(pattern, first token, last token)``, negated ones included."""
        if analysis.english:
            yield from self._index.find(analysis.words, analysis.stems)

    def match(self, analysis: Analysis) -> dict[str, RuleHits]:
        """Per theme with at least one asserted match: its score and evidence.

        A match is dropped if its first token is denied, or lies in a negation scope unless it is
        itself a negation word (a chain such as "no point, nothing changes") or the pattern is
        marked ``!``. Otherwise it counts with its pattern's weight times the factor at its first
        token. Each pattern counts once per theme (its best match); the theme's score is the
        noisy-or ``1 - prod(1 - weight)`` of its patterns.
        Evidence lists the matched text of every counted match, in text order, without repeats.
        """
        if not analysis.english:
            return {}
        words, stems, negated, factor = analysis.words, analysis.stems, analysis.negated, analysis.factor
        denied = analysis.denied
        negations = self.taxonomy.scope.negations
        best: dict[str, dict[str, float]] = {}
        evidence: dict[str, list[str]] = {}
        for pattern, start, end in self._index.find(words, stems):
            if denied[start] or (negated[start] and pattern.negatable and stems[start] not in negations):
                continue
            weight = pattern.weight * factor[start]
            per_theme = best.setdefault(pattern.theme, {})
            if weight > per_theme.get(pattern.source, 0.0):
                per_theme[pattern.source] = weight
            text = evidence_text(words, start, end)
            found = evidence.setdefault(pattern.theme, [])
            if text not in found:
                found.append(text)
        hits: dict[str, RuleHits] = {}
        for theme, weights in best.items():
            missing = 1.0
            for weight in weights.values():
                missing *= 1.0 - weight
            hits[theme] = RuleHits(1.0 - missing, _without_nested(evidence[theme]), list(weights))
        return hits


    def ruled_out(self, analysis: Analysis) -> set[str]:
        """Themes the comment says are absent: a theme's patterns match only where the comment
        denies, negates or imagines them ("I have never been bullied", "if I was bullied I would
        know who to tell"), or one of its ``absent`` patterns matches where nothing negates it
        ("I feel safe to speak up"; not "I don't feel safe to speak up"). The supervised layers
        see the topic better than the polarity, so the engine does not let them add these."""
        if not analysis.english:
            return set()
        negations = self.taxonomy.scope.negations
        absent: set[str] = set()
        present: set[str] = set()
        for pattern, start, _end in self._index.find(analysis.words, analysis.stems):
            dropped = analysis.denied[start] or (analysis.negated[start] and pattern.negatable
                                                 and analysis.stems[start] not in negations)
            if dropped or analysis.factor[start] < 0.5:
                absent.add(pattern.theme)
            else:
                present.add(pattern.theme)
        said_absent = {pattern.theme
                       for pattern, start, _end in self._absent.find(analysis.words, analysis.stems)
                       if not (analysis.negated[start] or analysis.factor[start] < 0.5)}
        return (absent - present) | said_absent


def _without_nested(texts: list[str]) -> list[str]:
    """``texts`` without any that is contained in another (keeps the longer evidence)."""
    return [t for t in texts if not any(t != other and t in other for other in texts)]
