"""Redaction of representative quotes: names, contact details, places, dates and numbers.

`redact` replaces, in this order:

* e-mail addresses -> ``[EMAIL]``;
* staff numbers: the number after "staff/employee/assignment/payroll/ESR number" or "ID" (the
  label is kept), NMC PINs (``12A3456E``), and any other run of six or more digits ->
  ``[STAFF NUMBER]``;
* dates: ``12/03/2024``, ``2024-03-12``, ``3rd March 2024``, ``March 3``, ``March 2024``, month
  names (except "May" on its own), weekday names and "on the 14th" -> ``[DATE]``;
* UK phone numbers (``07700 900123``, ``+44 20 7946 0018``, ``020 7946 0018``), extensions and
  bleeps (``ext 4521``, ``bleep 1234``) -> ``[PHONE]``;
* wards and units (``Ward 7B``, ``ward 12``, ``Elm Ward``, ``Ward Elm``) -> ``[WARD]``; beds, bays,
  cubicles and side rooms with a number (``bed 4``, ``bay 3``) -> ``[BED]``;
* NHS numbers (``943 476 5919``) -> ``[NHS NUMBER]``;
* names -> ``[NAME]``: a capitalised word after a title (Dr, Mrs, Sister ...; the title is kept),
  a first name from the list in ``config/themes/redaction.toml`` (and the capitalised surname
  after it; lower-case too unless the name is also an ordinary word such as "Grace"), a
  capitalised word after "called" or "named", any run of two or more capitalised words in
  mid-sentence that are not all known non-names (department names, nationalities ...), and any
  capitalised word in mid-sentence that is neither an English word (``english_words.txt.gz``
  beside the TOML file: the lower-case words of SCOWL's British English list, plus the TOML
  file's ``common_words`` such as "rota" and "datix") nor a known non-name: "I asked Okafor"
  loses "Okafor". Acronyms (two or more capitals: "HCAs", "MSc") are kept.

Heuristic, not a guarantee: a surname that is also an English word ("Baker"), an unlisted name
at the start of a sentence, a nickname or a lower-case name survives, so quotes must still be
read before they are shown.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from analysis.themes.errors import ThemeError
from analysis.themes.taxonomy import CONFIG_DIR, read_toml

DEFAULT_REDACTION_LISTS: Final = CONFIG_DIR / "redaction.toml"
ENGLISH_WORDS_FILE: Final = "english_words.txt.gz"
"""Beside the TOML file: one lower-case English word per line, gzip-compressed."""

_MONTH: Final = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
                 r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY: Final = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORDINAL: Final = r"\d{1,2}(?:st|nd|rd|th)?"
_I: Final = re.IGNORECASE

_RULES: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[EMAIL]"),
    (re.compile(r"\b((?:staff|employee|assignment|payroll|personnel|esr|badge|smartcard)\s*"
                r"(?:number|no\.?|num|id|#)?\s*(?:is\s*|:\s*|#\s*)?)[A-Za-z]{0,3}\d[\d -]{2,}\d\b", _I),
     r"\1[STAFF NUMBER]"),
    (re.compile(r"\b((?:ID|id|Id)\s*(?:number|no\.?)?\s*:?\s*)[A-Za-z]{0,3}\d{4,}\b"), r"\1[STAFF NUMBER]"),
    (re.compile(r"\b\d{2}[A-Z]\d{4}[A-Z]\b"), "[STAFF NUMBER]"),
    (re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b"), "[DATE]"),
    (re.compile(r"(?<![\d/.-])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/.-])"), "[DATE]"),
    (re.compile(rf"\b(?:{_DAY},?\s+)?(?:the\s+)?{_ORDINAL}\s+(?:of\s+)?{_MONTH}\b\.?(?:,?\s+\d{{4}}\b)?", _I),
     "[DATE]"),
    (re.compile(rf"\b(?:{_DAY},?\s+)?{_MONTH}\.?\s+{_ORDINAL}\b(?:,?\s+\d{{4}}\b)?", _I), "[DATE]"),
    (re.compile(rf"\b{_MONTH}\.?\s+\d{{4}}\b", _I), "[DATE]"),
    (re.compile(r"\b(?:January|February|March|April|June|July|August|September|October|November|December)\b"),
     "[DATE]"),
    (re.compile(rf"\b{_DAY}\b", _I), "[DATE]"),
    (re.compile(rf"\b(on|by|from|until) the {_ORDINAL}\b", _I), r"\1 the [DATE]"),
    (re.compile(r"(?<![\w/+])(?:\+44\s?(?:\(0\)\s?)?\d{2,4}|\(?0\d{2,4}\)?)"
                r"[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\w/])"), "[PHONE]"),
    (re.compile(r"\b(?:ext(?:ension)?\.?|bleep|x)\s?\d{3,5}\b", _I), "[PHONE]"),
    (re.compile(r"\b(?:ward|unit|theatre)\s*(?:no\.?|number)?\s*\d+[A-Za-z]?\b", _I), "[WARD]"),
    (re.compile(r"\b(?:bed\s*space|bed|bay|cubicle|side\s*room|room)\s*(?:no\.?|number)?\s*\d+[A-Za-z]?\b",
                _I), "[BED]"),
    (re.compile(r"\b\d{3}\s\d{3}\s\d{4}\b"), "[NHS NUMBER]"),
    (re.compile(r"\b\d{6,}\b"), "[STAFF NUMBER]"),
)
_WORD: Final = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019-])*")
"""A word: letters (any alphabet, so "Conceição" is one word), inner apostrophes and hyphens."""
_POSSESSIVE: Final = re.compile(r"(?:'|\u2019)s$")
_PARTS: Final = re.compile(r"[-'\u2019]")
_CONTRACTION: Final = re.compile(r"(?:'|\u2019)(?:s|ve|ll|re|d|m|t)$", re.IGNORECASE)
_DETERMINERS: Final = frozenset({"The", "A", "An", "This", "That", "Our", "My", "Each", "Every", "Any",
                                 "Their", "Your", "Her", "His", "On", "In", "To", "From", "At"})


@dataclass(frozen=True)
class RedactionLists:
    """The word lists names are found with (see ``config/themes/redaction.toml``)."""

    titles: frozenset[str]
    first_names: frozenset[str]
    ambiguous_first_names: frozenset[str]
    not_names: frozenset[str]
    ward_followers: frozenset[str]
    common_words: frozenset[str] = frozenset()
    """Lower-case English words, and the TOML file's ``common_words``: a capitalised word in
    mid-sentence that is none of these, nor in ``not_names``, is taken for a name."""


def read_redaction_lists(path: Path | str | None = None) -> RedactionLists:
    """The lists in the TOML file at ``path`` (default `DEFAULT_REDACTION_LISTS`)."""
    file = Path(path) if path is not None else DEFAULT_REDACTION_LISTS
    data = read_toml(file, "redaction lists")

    def words(key: str) -> frozenset[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ThemeError(f"{file}: {key} must be a list of strings")
        return frozenset(value)

    english = file.with_name(ENGLISH_WORDS_FILE)
    try:
        with gzip.open(english, "rt", encoding="utf-8") as f:
            dictionary = frozenset(line.strip() for line in f if line.strip())
    except OSError as e:
        raise ThemeError(f"cannot read the English word list {english}: {e}") from e
    return RedactionLists(words("titles"), words("first_names"), words("ambiguous_first_names"),
                          words("not_names"), words("ward_followers"),
                          dictionary | {w.lower() for w in words("common_words")})


class Redactor:
    """Redacts text with one set of word lists (see the module docstring for what it finds)."""

    def __init__(self, lists: RedactionLists) -> None:
        self._lists = lists
        self._lower_names = frozenset(n.lower() for n in lists.first_names)
        followers = "|".join(sorted(lists.ward_followers)) or "(?!)"
        self._named_ward = re.compile(
            rf"\b([A-Z][a-z]+)\s+(?:Ward|Unit)\b|\bWard\s+(?!(?:{followers})\b)[A-Z][a-z]+\b"
        )

    def _ward(self, match: re.Match[str]) -> str:
        before = match.group(1)
        if before is not None and (before in _DETERMINERS or before in ("Ward", "Unit")):
            return match.group(0)
        return "[WARD]"

    def redact(self, text: str) -> str:
        """``text`` with every kind of identifier listed in the module docstring replaced."""
        for pattern, replacement in _RULES:
            text = pattern.sub(replacement, text)
        text = self._named_ward.sub(self._ward, text)
        return self._redact_names(text)

    def _non_name(self, word: str) -> bool:
        """A known non-name, or a word with a part that is one or an acronym ("HCAs",
        "UK-trained")."""
        return word in self._lists.not_names or any(
            self._non_name_part(part) for part in _PARTS.split(word))

    def _non_name_part(self, part: str) -> bool:
        return part in self._lists.not_names or sum(1 for c in part if c.isupper()) >= 2

    def _not_english(self, word: str) -> bool:
        """True if no part of ``word`` (split at hyphens and apostrophes, after a contraction such
        as "'ve") is an English word, a known non-name or an acronym ("HCAs", "MSc", "UK")."""
        parts = [p for p in _PARTS.split(_CONTRACTION.sub("", word)) if len(p) > 1]
        return bool(parts) and not any(
            self._non_name_part(p) or p.lower() in self._lists.common_words for p in parts)

    def _redact_names(self, text: str) -> str:
        lists = self._lists
        tokens = list(_WORD.finditer(text))
        names: set[int] = set()

        def sentence_initial(k: int) -> bool:
            start = tokens[k].start()
            before = text[:start].rstrip(" \t\"'\u2018\u201c(")
            return not before or before[-1] in ".!?\n:;"

        def capitalised(word: str) -> bool:
            return word[0].isupper() and not word.isupper()

        bare: list[str] = [_POSSESSIVE.sub("", t.group(0)) for t in tokens]
        for k, token in enumerate(tokens):
            start = token.start()
            if start > 0 and text[start - 1] == "[":
                continue
            word = bare[k]
            previous = bare[k - 1] if k > 0 else ""
            adjacent = k > 0 and text[tokens[k - 1].end():start].strip() in ("", ".")
            listed = word in lists.first_names or (
                word.islower() and len(word) > 2 and word in self._lower_names
            )
            ambiguous = word in lists.ambiguous_first_names and not sentence_initial(k)
            unknown_capital = capitalised(word) and word not in lists.not_names
            after_title_or_name = adjacent and (previous in lists.titles or (k - 1) in names)
            introduced = previous in ("called", "named", "nicknamed")
            not_english = (unknown_capital and word not in lists.titles and not sentence_initial(k)
                           and self._not_english(word))
            if listed or ambiguous or not_english or (
                    unknown_capital and (after_title_or_name or introduced)):
                names.add(k)
        # Runs of two or more capitalised words in mid-sentence, not all known non-names.
        k = 0
        while k < len(tokens):
            j = k
            while (j < len(tokens) and capitalised(bare[j]) and bare[j] not in lists.titles
                   and (j == k or text[tokens[j - 1].end():tokens[j].start()] == " ")):
                j += 1
            if j - k >= 2 and not sentence_initial(k):
                run = range(k, j)
                if any(not self._non_name(bare[i]) and bare[i] not in _DETERMINERS for i in run):
                    names.update(i for i in run if not self._non_name(bare[i]))
            k = max(j, k + 1)
        return _replace_runs(text, tokens, sorted(names), bare)


def _replace_runs(text: str, tokens: Sequence[re.Match[str]], names: Sequence[int],
                  bare: Sequence[str]) -> str:
    """Replace each run of adjacent name tokens with one ``[NAME]`` (keeping a final "'s")."""
    pieces: list[str] = []
    cursor = 0
    i = 0
    while i < len(names):
        first = last = names[i]
        while i + 1 < len(names) and names[i + 1] == last + 1 and \
                text[tokens[last].end():tokens[names[i + 1]].start()] == " ":
            i += 1
            last = names[i]
        suffix = tokens[last].group(0)[len(bare[last]):]
        pieces.append(text[cursor:tokens[first].start()])
        pieces.append("[NAME]" + suffix)
        cursor = tokens[last].end()
        i += 1
    pieces.append(text[cursor:])
    return "".join(pieces)


_default: Redactor | None = None


def _default_redactor() -> Redactor:
    global _default
    if _default is None:
        _default = Redactor(read_redaction_lists())
    return _default


def redact(text: str) -> str:
    """``text`` with names, e-mail addresses, phone numbers, wards, beds, dates, staff numbers and
    NHS numbers replaced by ``[NAME]``, ``[EMAIL]``, ``[PHONE]``, ``[WARD]``, ``[BED]``,
    ``[DATE]``, ``[STAFF NUMBER]`` and ``[NHS NUMBER]`` (lists from ``config/themes/redaction.toml``)."""
    return _default_redactor().redact(text)

