"""Emerging themes: distinctive recurring phrases in a set of comments that the taxonomy misses.

For EDI teams: "what are people saying that we have no theme for?" The method:

1. Every comment is tokenised and run through the rule layer; tokens inside a pattern match
   (the evidence of a known theme) are *covered* and no phrase may touch them.
2. Candidate phrases are word bigrams and trigrams inside one clause, not starting or ending
   with a function word, with no pronoun anywhere ("nurse i keep" runs from one clause's
   subject into the next; "time someone" is half of two phrases), and not made only of
   numbers, times and quantities ("three years", "first day", "months ago": real staff text is
   full of them and they name no issue).
3. A candidate must occur in at least ``min_comments`` different comments, and be a
   collocation there: NLTK's log-likelihood association of its words (``BigramAssocMeasures``
   / ``TrigramAssocMeasures.likelihood_ratio``) at least ``min_association`` (3.84: p < 0.05).
4. It must be *distinctive* against a background corpus of ordinary workplace text
   (`DEFAULT_BACKGROUND`, one document per line): more frequent (per comment) in the comments
   than in the background, with Dunning's log-likelihood (G-squared) keyness at least
   ``min_keyness`` (3.84: p < 0.05), ranked by keyness. Singular
   and plural count as one phrase for this comparison ("night shifts" is as ordinary as
   "night shift").
5. A bigram inside a kept trigram that occurs in almost the same comments is dropped.

Counting is incremental: comments are read once, as an iterable, and only counts are kept.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from nltk.collocations import (  # type: ignore[import-untyped]
    BigramAssocMeasures,
    BigramCollocationFinder,
    TrigramAssocMeasures,
    TrigramCollocationFinder,
)
from nltk.probability import FreqDist  # type: ignore[import-untyped]

from analysis.themes.errors import ThemeError
from analysis.themes.matcher import RuleMatcher
from analysis.themes.taxonomy import CONFIG_DIR
from analysis.themes.text import CLAUSE_BREAK, ENGLISH_WORDS, SENTENCE_END, tokenise

DEFAULT_BACKGROUND: Final = CONFIG_DIR / "background.txt"
_EXTRA_FUNCTION_WORDS: Final = frozenset(
    [
        "also", "am", "being", "both", "could", "each", "either", "even", "ever", "few", "her", "hers",
        "herself", "himself", "into", "it's", "just", "may", "might", "mine", "most", "much", "must",
        "myself", "nor", "once", "ours", "ourselves", "own", "really", "said", "say", "says", "shall",
        "should", "since", "such", "theirs", "themselves", "these", "though", "through", "under", "until",
        "upon", "whom", "whose", "yet", "yours", "yourself", "yourselves", "get", "gets", "got", "getting",
        "go", "goes", "went", "going", "make", "made", "lot", "lots", "bit", "thing", "things", "way",
        "ways", "making", "sure", "currently", "different"
    ]
)
FUNCTION_WORDS: Final = ENGLISH_WORDS | _EXTRA_FUNCTION_WORDS
PRONOUNS: Final = frozenset(
    [
        "i", "i'm", "i've", "i'd", "i'll", "im", "me", "my", "mine", "myself", "you", "you're", "your",
        "yours", "u", "ur", "he", "he's", "him", "his", "she", "she's", "her", "hers", "we", "we're",
        "we've", "us", "our", "ours", "they", "they're", "they've", "them", "their", "it", "it's", "its",
        "someone", "somebody", "anyone", "anybody", "everyone", "everybody", "nobody", "noone",
        "something", "anything", "everything", "nothing", "this", "that", "these", "those", "who",
        "whom", "which", "what",
    ]
)
"""No candidate phrase contains one: a pronoun starts or ends a clause, so a phrase across it
joins the end of one thought to the start of another."""
GENERIC_WORDS: Final = frozenset(
    [
        "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks",
        "month", "months", "year", "years", "time", "times", "ago", "first", "last", "next", "few",
        "several", "many", "long", "whole", "half", "every", "each", "today", "yesterday", "tomorrow",
        "morning", "afternoon", "evening", "one", "two", "three", "four", "five", "six", "seven",
        "eight", "nine", "ten", "eleven", "twelve", "twenty", "thirty", "forty", "fifty", "hundred",
        "hundreds", "thousand", "thousands", "dozen", "couple", "people", "person", "currently",
        "recently", "previously", "almost", "nearly", "around", "least", "lot", "lots", "number",
        "other", "others", "another", "new", "old", "different", "same", "day's", "year's", "week's",
    ]
)
"""Words of time and quantity: a phrase made only of these and numbers names no issue."""
_Gram = tuple[str, ...]


@dataclass(frozen=True)
class EmergingPhrase:
    """A distinctive phrase: how many comments use it (outside known themes), its keyness
    against the background (G-squared), its association strength, and up to three comment ids."""

    phrase: str
    comments: int
    keyness: float
    association: float
    examples: tuple[str, ...]


def _clauses(words: Sequence[str], covered: set[int]) -> list[list[tuple[int, str]]]:
    """Runs of uncovered word tokens, split at punctuation and covered tokens."""
    runs: list[list[tuple[int, str]]] = [[]]
    for i, word in enumerate(words):
        if word in (SENTENCE_END, CLAUSE_BREAK) or i in covered:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((i, word))
    return [run for run in runs if run]


def _candidates(run: list[tuple[int, str]], sizes: Sequence[int]) -> Iterable[_Gram]:
    words = [w for _, w in run]
    for n in sizes:
        for i in range(len(words) - n + 1):
            gram = tuple(words[i:i + n])
            if gram[0] in FUNCTION_WORDS or gram[-1] in FUNCTION_WORDS:
                continue
            if any(w in PRONOUNS for w in gram) or all(
                    w.isdigit() or w in GENERIC_WORDS or w in FUNCTION_WORDS for w in gram):
                continue
            if any(len(w) < 2 for w in (gram[0], gram[-1])):
                continue
            yield gram


def _folded(gram: _Gram) -> _Gram:
    """``gram`` with a plural -s dropped from each word, to compare with the background."""
    return tuple(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in gram)


def _g2(a: int, total_a: int, b: int, total_b: int) -> float:
    """Dunning's log-likelihood for a phrase in ``a`` of ``total_a`` documents vs ``b`` of ``total_b``."""
    expected_a = total_a * (a + b) / (total_a + total_b)
    expected_b = total_b * (a + b) / (total_a + total_b)
    g2 = 0.0
    for observed, expected in ((a, expected_a), (b, expected_b)):
        if observed > 0 and expected > 0:
            g2 += observed * math.log(observed / expected)
    return 2.0 * g2


def read_background(path: Path | str | None = None) -> list[str]:
    """The background documents (non-empty lines not starting with ``#``) of a text file."""
    file = Path(path) if path is not None else DEFAULT_BACKGROUND
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ThemeError(f"cannot read background corpus {file}: {e.strerror}") from e
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def emerging_phrases(comments: Iterable[tuple[str, str]], *, matcher: RuleMatcher,
                     background: Sequence[str] | None = None, min_comments: int = 3,
                     min_association: float = 3.84, min_keyness: float = 3.84,
                     top: int = 20) -> list[EmergingPhrase]:
    """The ``top`` most distinctive uncovered phrases in ``(id, text)`` comments (see the module).

    ``background`` defaults to `read_background()`. Non-English and empty comments are skipped.
    """
    if min_comments < 1:
        raise ThemeError("min_comments must be at least 1")
    documents = read_background() if background is None else list(background)
    background_df: Counter[_Gram] = Counter()
    for document in documents:
        background_df.update({_folded(gram) for run in _clauses(tokenise(document), set())
                              for gram in _candidates(run, (2, 3))})

    word_fd = FreqDist()
    bigram_fd = FreqDist()
    trigram_fd = FreqDist()
    wild_fd = FreqDist()
    document_frequency: Counter[_Gram] = Counter()
    examples: dict[_Gram, list[str]] = {}
    total = 0
    for comment_id, text in comments:
        analysis = matcher.analyse(text or "")
        if not analysis.english:
            continue
        total += 1
        covered: set[int] = set()
        for _pattern, start, end in matcher.matches(analysis):
            covered.update(range(start, end + 1))
        seen: set[_Gram] = set()
        for run in _clauses(analysis.words, covered):
            words = [w for _, w in run]
            for word in words:
                word_fd[word] += 1
            for i in range(len(words) - 1):
                bigram_fd[(words[i], words[i + 1])] += 1
            for i in range(len(words) - 2):
                trigram_fd[(words[i], words[i + 1], words[i + 2])] += 1
                wild_fd[(words[i], words[i + 2])] += 1
            seen.update(_candidates(run, (2, 3)))
        for gram in seen:
            document_frequency[gram] += 1
            found = examples.setdefault(gram, [])
            if len(found) < 3:
                found.append(comment_id)
    if total == 0:
        return []

    frequent = {g for g, n in document_frequency.items() if n >= min_comments}
    bigram_scores: dict[_Gram, float] = {}
    trigram_scores: dict[_Gram, float] = {}
    if any(len(g) == 2 for g in frequent):
        finder = BigramCollocationFinder(word_fd, bigram_fd)
        bigram_scores = {tuple(g): s for g, s in finder.score_ngrams(BigramAssocMeasures.likelihood_ratio)
                         if tuple(g) in frequent}
    if any(len(g) == 3 for g in frequent):
        finder3 = TrigramCollocationFinder(word_fd, bigram_fd, wild_fd, trigram_fd)
        trigram_scores = {tuple(g): s for g, s in finder3.score_ngrams(TrigramAssocMeasures.likelihood_ratio)
                          if tuple(g) in frequent}
    scored: list[EmergingPhrase] = []
    background_total = max(len(documents), 1)
    for gram in frequent:
        association = (bigram_scores if len(gram) == 2 else trigram_scores).get(gram, 0.0)
        if association < min_association:
            continue
        here, there = document_frequency[gram], background_df.get(_folded(gram), 0)
        if here / total <= there / background_total:
            continue
        keyness = _g2(here, total, there, background_total)
        if keyness < min_keyness:
            continue
        scored.append(EmergingPhrase(" ".join(gram), here, round(keyness, 3), round(association, 3),
                                     tuple(examples[gram])))
    scored.sort(key=lambda p: (-p.keyness, -p.comments, p.phrase))
    kept: list[EmergingPhrase] = []
    for phrase in scored:
        longer = [k for k in kept if f" {phrase.phrase} " in f" {k.phrase} "]
        if any(k.comments >= 0.8 * phrase.comments for k in longer):
            continue
        kept = [k for k in kept
                if not (f" {k.phrase} " in f" {phrase.phrase} " and phrase.comments >= 0.8 * k.comments)]
        kept.append(phrase)
    kept.sort(key=lambda p: (-p.keyness, -p.comments, p.phrase))
    return kept[:top]
