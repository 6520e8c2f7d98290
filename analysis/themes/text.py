"""Tokens and stems of one comment, and whether it is English enough to analyse.

Tokenising is a single regular expression over the lower-cased text: words (letters and digits,
with inner apostrophes, so ``didn't`` and ``manager's`` stay one token), runs of sentence-ending
punctuation (one ``.`` token) and clause punctuation (one ``,`` token). Hyphens, slashes and
quotes separate words. Stems are NLTK's Snowball (English) stems, memoised per `Stemmer`.
"""

from __future__ import annotations

import re
from typing import Final

from nltk.stem.snowball import SnowballStemmer  # type: ignore[import-untyped]

SENTENCE_END: Final = "."
CLAUSE_BREAK: Final = ","
MAX_CHARACTERS: Final = 50_000
"""Only the first this many characters of a comment are analysed (a guard against pasted files)."""

_TOKEN: Final = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[.!?]+|[,;:()]")
_APOSTROPHES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_PUNCTUATION: Final = {".": SENTENCE_END, "!": SENTENCE_END, "?": SENTENCE_END, ",": CLAUSE_BREAK,
                       ";": CLAUSE_BREAK, ":": CLAUSE_BREAK, "(": CLAUSE_BREAK, ")": CLAUSE_BREAK}

# Function words decide whether a comment is English: short lists, not a dictionary.
ENGLISH_WORDS: Final = frozenset(
    [
        "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "anyone", "are", "as",
        "at", "back", "be", "because", "been", "before", "being", "but", "by", "can", "can't", "cannot",
        "could", "did", "didn't", "do", "does", "doesn't", "don't", "dont", "every", "for", "from", "get",
        "gets", "got", "had", "has", "have", "haven't", "he", "her", "here", "him", "his", "how", "i",
        "i'd", "i'll", "i'm", "i've", "if", "im", "in", "into", "is", "isn't", "it", "it's", "its", "just",
        "know", "like", "me", "more", "my", "never", "no", "nobody", "not", "nothing", "now", "of", "off",
        "on", "one", "only", "or", "other", "our", "out", "over", "same", "she", "should", "so", "some",
        "still", "than", "that", "the", "their", "them", "then", "there", "they", "they're", "this",
        "those", "to", "too", "up", "us", "very", "was", "wasn't", "we", "we're", "were", "what", "when",
        "where", "which", "while", "who", "why", "will", "with", "without", "won't", "would", "you", "your"
    ]
)
OTHER_WORDS: Final = frozenset(
    [
        "de", "la", "le", "les", "el", "los", "las", "en", "y", "que", "un", "una", "une", "des", "du",
        "est", "et", "il", "ne", "pas", "por", "para", "con", "es", "del", "al", "lo", "mi", "tu", "su",
        "muy", "todo", "bien", "und", "der", "die", "das", "ist", "nicht", "ich", "mit", "zu", "den", "von",
        "ein", "eine", "auch", "na", "nie", "jest", "się", "w", "z", "że", "ale", "do", "tak", "nao",
        "não", "com", "uma", "os", "da", "dos", "um", "em", "é", "ce", "mon", "ma", "mes", "dans", "sur",
        "avec", "pour", "tout", "très", "rien", "va", "bardzo", "dobrze", "wszystko"
    ]
)


class Stemmer:
    """Snowball English stems, memoised (a bounded cache: cleared when it reaches ``limit`` words)."""

    __slots__ = ("_cache", "_limit", "_snowball")

    def __init__(self, limit: int = 200_000) -> None:
        self._snowball = SnowballStemmer("english")
        self._cache: dict[str, str] = {}
        self._limit = limit

    def stem(self, word: str) -> str:
        """The stem of a lower-case token; punctuation and number tokens are returned unchanged."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(self._cache) >= self._limit:
            self._cache.clear()
        result: str = word if not word[0].isalpha() else self._snowball.stem(word)
        self._cache[word] = result
        return result


def tokenise(text: str) -> list[str]:
    """Lower-case tokens of ``text`` (at most `MAX_CHARACTERS` of it); punctuation normalised.

    Sentence-ending punctuation becomes ``"."`` and clause punctuation ``","``.
    """
    lowered = text[:MAX_CHARACTERS].lower().translate(_APOSTROPHES)
    return [_PUNCTUATION.get(token[0], token) for token in _TOKEN.findall(lowered)]


def is_english(words: list[str]) -> bool:
    """Whether a tokenised comment looks English enough to look for themes in it.

    False when it has no word with a letter; when most of its words are written with non-ASCII
    letters; when it has more function words of other European languages than English ones; or
    when it has eight or more words and not one English function word. Short English comments
    without function words ("Nepotism.", "Short staffed again") pass.
    """
    letters = [w for w in words if w[0].isalpha()]
    if not letters:
        return False
    non_ascii = sum(1 for w in letters if not w.isascii())
    if non_ascii * 2 > len(letters):
        return False
    english = sum(1 for w in letters if w in ENGLISH_WORDS)
    other = sum(1 for w in letters if w in OTHER_WORDS)
    if other > english:
        return False
    return not (english == 0 and len(letters) >= 8)
