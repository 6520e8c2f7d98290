"""Tone: VADER's compound sentiment with a lexicon corrected for staff comments.

A secondary signal only: the engine computes themes without looking at tone. The lexicon is
the ``vader_lexicon.txt`` shipped in the ``vaderSentiment`` package (read from disk, nothing is
downloaded), corrected by `DEFAULT_TONE_OVERRIDES` (``config/themes/tone.toml``): single-word
values under ``[lexicon]`` and multi-word ``[phrases]``, which are joined into one token before
scoring. Scoring is VADER's ``polarity_scores``: by default the reference implementation in
``vaderSentiment`` (about three times faster than NLTK's port, same rules; they differ on a few
comments with emoji or unusual punctuation), or NLTK's ``SentimentIntensityAnalyzer`` with
``implementation="nltk"``.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal, Protocol

from nltk.sentiment.vader import SentimentIntensityAnalyzer, VaderConstants  # type: ignore[import-untyped]
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
    SentimentIntensityAnalyzer as ReferenceVader,
)

from analysis.themes.errors import ThemeError
from analysis.themes.taxonomy import CONFIG_DIR, read_toml
from analysis.themes.text import MAX_CHARACTERS

DEFAULT_TONE_OVERRIDES: Final = CONFIG_DIR / "tone.toml"
_PHRASE_WORD: Final = re.compile(r"[a-z0-9']+")


Implementation = Literal["vadersentiment", "nltk"]


class _Scorer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


class ToneError(ThemeError):
    """The VADER lexicon or the override table cannot be read."""


def vader_lexicon_path() -> Path:
    """Where the ``vaderSentiment`` package keeps ``vader_lexicon.txt``; ToneError if not installed."""
    spec = importlib.util.find_spec("vaderSentiment")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "vader_lexicon.txt"
        if candidate.is_file():
            return candidate
    raise ToneError("the vaderSentiment package (which ships vader_lexicon.txt) is not installed")


def read_vader_lexicon(path: Path | str | None = None) -> dict[str, float]:
    """The VADER lexicon as ``{token: valence}`` (the file's first two tab-separated columns)."""
    file = Path(path) if path is not None else vader_lexicon_path()
    lexicon: dict[str, float] = {}
    try:
        with file.open(encoding="utf-8") as lines:
            for line in lines:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 2:
                    try:
                        lexicon[parts[0]] = float(parts[1])
                    except ValueError as e:
                        raise ToneError(f"{file}: bad valence {parts[1]!r} for {parts[0]!r}") from e
    except OSError as e:
        raise ToneError(f"cannot read VADER lexicon {file}: {e.strerror}") from e
    return lexicon


def read_overrides(path: Path | str | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """``(lexicon, phrases)`` from a tone override TOML file (default `DEFAULT_TONE_OVERRIDES`)."""
    file = Path(path) if path is not None else DEFAULT_TONE_OVERRIDES
    data = read_toml(file, "tone overrides", ToneError)
    tables: list[dict[str, float]] = []
    for name in ("lexicon", "phrases"):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ToneError(f"{file}: [{name}] must be a table")
        values: dict[str, float] = {}
        for key, value in table.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not -4.0 <= value <= 4.0:
                raise ToneError(f"{file}: [{name}] {key!r} must be a number from -4 to 4")
            values[key.lower()] = float(value)
        tables.append(values)
    return tables[0], tables[1]


class ToneAnalyser:
    """VADER compound score in [-1, 1] with a corrected lexicon (see the module docstring)."""

    def __init__(self, lexicon: Mapping[str, float], phrases: Mapping[str, float] | None = None,
                 *, implementation: Implementation = "vadersentiment") -> None:
        merged = dict(lexicon)
        self._phrase_tokens: dict[str, str] = {}
        by_first: dict[str, list[str]] = {}
        for phrase, valence in (phrases or {}).items():
            words = _PHRASE_WORD.findall(phrase.lower())
            if not words:
                raise ToneError(f"tone phrase {phrase!r} has no words")
            token = "_".join(words)
            merged[token] = valence
            self._phrase_tokens[" ".join(words)] = token
            by_first.setdefault(words[0], []).append(r"[\s\-]+".join(re.escape(w) for w in words[1:]))
        # One alternative per first word, longest continuation first: far fewer regex branches
        # to try at each position than one alternative per phrase.
        groups = []
        for first, rests in sorted(by_first.items()):
            tails = sorted((r for r in rests if r), key=len, reverse=True)
            tail = "(?:[\\s\\-]+(?:" + "|".join(tails) + "))" if tails else ""
            groups.append(re.escape(first) + (tail if "" not in rests else tail + "?"))
        self._phrases = re.compile(r"\b(?:" + "|".join(groups) + r")\b") if groups else None
        analyser: _Scorer
        if implementation == "nltk":
            # Built without __init__ so that NLTK does not try to load its own (downloadable) lexicon.
            nltk_vader = SentimentIntensityAnalyzer.__new__(SentimentIntensityAnalyzer)
            nltk_vader.constants = VaderConstants()
            nltk_vader.lexicon = merged
            analyser = nltk_vader
        elif implementation == "vadersentiment":
            # Reads its own packaged lexicon and emoji table from disk; then ours replaces the lexicon.
            reference = ReferenceVader()
            reference.lexicon = merged
            analyser = reference
        else:
            raise ToneError(f"unknown VADER implementation {implementation!r}")
        self._analyser = analyser

    @classmethod
    def default(cls, overrides: Path | str | None = None, *,
                implementation: Implementation = "vadersentiment") -> ToneAnalyser:
        """The packaged VADER lexicon corrected by the override file (default `DEFAULT_TONE_OVERRIDES`)."""
        lexicon = read_vader_lexicon()
        words, phrases = read_overrides(overrides)
        lexicon.update(words)
        return cls(lexicon, phrases, implementation=implementation)

    @classmethod
    def plain_vader(cls, *, implementation: Implementation = "vadersentiment") -> ToneAnalyser:
        """VADER with its lexicon as shipped, no corrections (for comparison and benchmarks)."""
        return cls(read_vader_lexicon(), implementation=implementation)

    def _join_phrase(self, match: re.Match[str]) -> str:
        words = _PHRASE_WORD.findall(match.group(0).lower())
        token = self._phrase_tokens.get(" ".join(words))
        # Spaces around the token: NLTK's tokeniser would leave "token." unmatched.
        return f" {token} " if token else match.group(0)

    def score(self, text: str) -> float:
        """The compound tone of ``text``, from -1 (negative) to 1 (positive); 0.0 for empty text."""
        if not text or not text.strip():
            return 0.0
        text = text[:MAX_CHARACTERS]
        if self._phrases is not None:
            lowered = text.lower()
            # Matched on the lower-cased copy (same length for all but a few exotic letters),
            # replaced in the original so VADER still sees capitals and punctuation.
            if len(lowered) == len(text):
                pieces: list[str] = []
                cursor = 0
                for match in self._phrases.finditer(lowered):
                    pieces.append(text[cursor:match.start()])
                    pieces.append(self._join_phrase(match))
                    cursor = match.end()
                if pieces:
                    pieces.append(text[cursor:])
                    text = "".join(pieces)
        compound = self._analyser.polarity_scores(text)["compound"]
        return max(-1.0, min(1.0, float(compound)))
