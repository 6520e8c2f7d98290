"""The theme taxonomy: themes, their phrase patterns, and the negation and hedging rules.

The taxonomy is a TOML file (`DEFAULT_TAXONOMY`, ``config/themes/taxonomy.toml``) that staff can
edit without touching code. Its shape::

    threshold = 0.5                  # a theme is assigned when its score reaches this
    [scope]                          # negation, hedging, hypotheticals (see `ScopeRules`)
    [macros]                         # NAME = "alternatives", used in patterns as {NAME}
    [[themes]]
    id = "nepotism_favouritism"      # stable identifier: [a-z][a-z0-9_]*
    label = "Nepotism and favouritism"
    description = "Plain-English description shown to users."
    weight = 0.85                    # score of one match of a pattern in `patterns` (default 0.85)
    patterns = ["..."]               # each enough on its own
    weak = ["..."]                   # weight `weak_weight` (default 0.35): needs support
    weak_weight = 0.35
    absent = ["..."]                 # says the theme is absent ("I feel safe to speak up"):
                                     # the supervised layers may not add the theme then

Pattern language (one pattern is one string; it is matched over the stems of one sentence):

* elements are separated by spaces and must match consecutive tokens, unless a gap ``~N``
  (0 to N other tokens, never across a sentence end) or ``~`` (0 to 3) stands between them;
* an element is one or more alternatives separated by ``|``;
* an alternative is a word, matched by its Snowball stem (``friends`` matches friend, friends,
  friendly); ``word*``, a prefix of the token or of its stem; ``=word``, the exact lower-case token;
  ``=word*``, a prefix of the token only; ``#``, any token starting with a digit; or ``{NAME}``, a
  macro from ``[macros]`` (itself alternatives, possibly with other macros);
* a last part ``@W`` (0 < W <= 1) gives the pattern weight W instead of its list's weight;
* a first part ``!`` makes the pattern immune to negation scope: for phrases whose negation is
  part of the complaint ("didn't have UK experience", "can't remember the last time I had a
  break"). Denials (below) still cancel it.

Words are letters, digits and inner apostrophes: write ``in crowd``, not ``in-crowd``, because
the tokeniser splits hyphens.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from analysis.themes.errors import TaxonomyError, ThemeError
from analysis.themes.text import Stemmer

CONFIG_DIR: Final = Path(__file__).resolve().parents[2] / "config" / "themes"
DEFAULT_TAXONOMY: Final = CONFIG_DIR / "taxonomy.toml"


def read_toml(file: Path, what: str, error: type[ThemeError] = ThemeError) -> dict[str, object]:
    """The TOML file ``file`` as a dict; ``error`` naming ``what`` if it is unreadable or not TOML."""
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise error(f"cannot read {what} {file}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise error(f"{what} {file} are not valid TOML: {e}") from e

_THEME_ID: Final = re.compile(r"[a-z][a-z0-9_]*\Z")
_WORD: Final = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*\Z")
_MACRO: Final = re.compile(r"\{([A-Z][A-Z0-9_]*)\}\Z")
_GAP: Final = re.compile(r"~(\d*)\Z")
_WEIGHT: Final = re.compile(r"@(\d*\.?\d+)\Z")
_DEFAULT_GAP: Final = 3
_MAX_GAP: Final = 12


@dataclass(frozen=True, slots=True)
class Element:
    """One position of a pattern: what the token there may be, and the gap allowed before it."""

    stems: frozenset[str]
    prefixes: tuple[str, ...]
    words: frozenset[str]
    word_prefixes: tuple[str, ...]
    number: bool
    gap: int

    def matches(self, word: str, stem: str) -> bool:
        """Whether the token ``word`` (lower case) with stem ``stem`` fits this element."""
        return (
            stem in self.stems
            or word in self.words
            or (bool(self.prefixes) and (word.startswith(self.prefixes) or stem.startswith(self.prefixes)))
            or (bool(self.word_prefixes) and word.startswith(self.word_prefixes))
            or (self.number and word[0].isdigit())
        )


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled phrase pattern: its theme (or scope role), source text, weight and elements."""

    theme: str
    source: str
    weight: float
    elements: tuple[Element, ...]
    negatable: bool = True


@dataclass(frozen=True)
class Theme:
    """A theme users see: stable id, short label, plain-English description."""

    id: str
    label: str
    description: str


@dataclass(frozen=True)
class ScopeRules:
    """How negation, hedges and hypotheticals limit what a pattern match asserts.

    ``negations``: stems of negation cues. A cue opens a scope over the next ``negation_window``
    tokens, closed early by punctuation, by a word in ``clause_breaks``, or by ``and`` followed
    by a word in ``and_breaks_before`` ("... and I ..."). A match whose first token lies in a
    negation scope asserts nothing and is dropped ("I have never been bullied"), unless its
    first token is itself a negation cue ("no point, nothing changes"; a cue inside the match,
    as in "never advertised", is part of the phrase) or the pattern is marked ``!``.
    ``denials_before``: phrases such as "never had a problem": a match starting inside one is
    dropped. ``denials_after``: phrases such as "is not a problem": a match starting in the
    clause before one is dropped.
    ``hedges``: phrases that hedge their whole sentence ("maybe", "I might be wrong"); matches
    there keep ``hedge_factor`` of their weight. Their negation words open no scope ("not sure").
    ``hypotheticals``: phrases such as "if I was"; matches in the ``hypothetical_window`` tokens
    after them keep ``hypothetical_factor`` of their weight.
    """

    negations: frozenset[str]
    negation_window: int
    clause_breaks: frozenset[str]
    and_breaks_before: frozenset[str]
    denials_before: tuple[Pattern, ...]
    denials_after: tuple[Pattern, ...]
    hedges: tuple[Pattern, ...]
    hedge_factor: float
    hypotheticals: tuple[Pattern, ...]
    hypothetical_window: int
    hypothetical_factor: float


@dataclass(frozen=True)
class Taxonomy:
    """A loaded, validated taxonomy. ``digest``: SHA-256 of the file, recorded in trained models.

    ``word_classes``: each macro as a word class (the supervised layer uses "this word is a
    {FRIEND} word" as a feature, so it generalises to class members it never saw labelled).
    """

    themes: tuple[Theme, ...]
    patterns: tuple[Pattern, ...]
    scope: ScopeRules
    threshold: float
    digest: str
    stemmer: Stemmer
    word_classes: tuple[tuple[str, Element], ...] = ()
    absent: tuple[Pattern, ...] = ()
    """Patterns that say a theme is absent (weight 0; see `RuleMatcher.ruled_out`)."""

    @property
    def theme_ids(self) -> tuple[str, ...]:
        """Theme ids in file order."""
        return tuple(theme.id for theme in self.themes)

    def theme(self, theme_id: str) -> Theme:
        """The theme with this id; TaxonomyError if there is none."""
        for theme in self.themes:
            if theme.id == theme_id:
                return theme
        raise TaxonomyError(f"unknown theme {theme_id!r}")


class _Compiler:
    def __init__(self, macros: Mapping[str, str], stemmer: Stemmer) -> None:
        self._macros = macros
        self._stemmer = stemmer

    def alternatives(self, text: str, seen: tuple[str, ...] = ()) -> list[str]:
        found: list[str] = []
        for alternative in text.split("|"):
            alternative = alternative.strip()
            macro = _MACRO.match(alternative)
            if macro:
                name = macro.group(1)
                if name in seen:
                    raise TaxonomyError(f"macro {name} refers to itself")
                if name not in self._macros:
                    raise TaxonomyError(f"unknown macro {{{name}}}")
                found.extend(self.alternatives(self._macros[name], (*seen, name)))
            else:
                found.append(alternative)
        return found

    def element(self, text: str, gap: int, where: str) -> Element:
        stems: set[str] = set()
        prefixes: list[str] = []
        words: set[str] = set()
        word_prefixes: list[str] = []
        number = False
        for alternative in self.alternatives(text):
            surface = alternative.startswith("=")
            body = alternative[1:] if surface else alternative
            prefix = body.endswith("*")
            body = body[:-1] if prefix else body
            if alternative == "#":
                number = True
                continue
            if not _WORD.match(body):
                raise TaxonomyError(f"{where}: {alternative!r} is not a word, word*, =word, # or {{MACRO}}")
            if surface and prefix:
                word_prefixes.append(body)
            elif surface:
                words.add(body)
            elif prefix:
                prefixes.append(body)
            else:
                stems.add(self._stemmer.stem(body))
        return Element(frozenset(stems), tuple(prefixes), frozenset(words), tuple(word_prefixes),
                       number, gap)

    def pattern(self, text: object, theme: str, weight: float, where: str) -> Pattern:
        if not isinstance(text, str) or not text.strip():
            raise TaxonomyError(f"{where}: a pattern must be a non-empty string")
        parts = text.split()
        negatable = parts[0] != "!"
        if not negatable:
            parts.pop(0)
        if not parts:
            raise TaxonomyError(f"{where}: {text!r} has no elements")
        override = _WEIGHT.match(parts[-1])
        if override:
            weight = float(override.group(1))
            parts.pop()
            if not 0.0 < weight <= 1.0 or not parts:
                raise TaxonomyError(f"{where}: {text!r} needs elements and a weight in (0, 1]")
        elements: list[Element] = []
        gap = 0
        pending_gap = False
        for part in parts:
            gap_match = _GAP.match(part)
            if gap_match:
                if not elements or pending_gap:
                    raise TaxonomyError(f"{where}: a gap must stand between two elements in {text!r}")
                gap = int(gap_match.group(1)) if gap_match.group(1) else _DEFAULT_GAP
                if gap > _MAX_GAP:
                    raise TaxonomyError(f"{where}: gaps are at most ~{_MAX_GAP} in {text!r}")
                pending_gap = True
                continue
            elements.append(self.element(part, gap, f"{where} {text!r}"))
            gap = 0
            pending_gap = False
        if pending_gap:
            raise TaxonomyError(f"{where}: a pattern cannot end with a gap: {text!r}")
        return Pattern(theme, text, weight, tuple(elements), negatable)


def _number(table: Mapping[str, object], key: str, default: float, low: float, high: float,
            where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise TaxonomyError(f"{where}: {key} must be a number from {low} to {high}")
    return float(value)


def _strings(table: Mapping[str, object], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TaxonomyError(f"{where}: {key} must be a list of strings")
    return list(value)


def _table(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise TaxonomyError(f"{where} must be a table")
    return value


def parse_taxonomy(text: str, *, stemmer: Stemmer | None = None) -> Taxonomy:
    """A `Taxonomy` from TOML text; TaxonomyError naming the first problem found.

    Checks: theme ids well formed and unique, every theme has a label, a description and at least
    one pattern, every pattern compiles, weights and windows are in range.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TaxonomyError(f"taxonomy is not valid TOML: {e}") from e
    stemmer = stemmer or Stemmer()
    macros_table = _table(data.get("macros", {}), "[macros]")
    macros: dict[str, str] = {}
    for name, value in macros_table.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name) or not isinstance(value, str):
            raise TaxonomyError(f"[macros]: {name} must be an upper-case name with a string value")
        macros[name] = value
    compiler = _Compiler(macros, stemmer)
    threshold = _number(data, "threshold", 0.5, 0.01, 0.99, "taxonomy")

    scope_table = _table(data.get("scope", {}), "[scope]")

    def scope_patterns(key: str) -> tuple[Pattern, ...]:
        return tuple(compiler.pattern(p, key, 1.0, f"[scope] {key}")
                     for p in _strings(scope_table, key, "[scope]"))

    negation_words = [w for p in _strings(scope_table, "negations", "[scope]")
                      for w in compiler.alternatives(p)]
    for word in negation_words:
        if not _WORD.match(word):
            raise TaxonomyError(f"[scope] negations: {word!r} is not a word")
    scope = ScopeRules(
        negations=frozenset(stemmer.stem(w) for w in negation_words),
        negation_window=int(_number(scope_table, "negation_window", 8, 1, 30, "[scope]")),
        clause_breaks=frozenset(stemmer.stem(w) for w in _strings(scope_table, "clause_breaks", "[scope]")),
        and_breaks_before=frozenset(_strings(scope_table, "and_breaks_before", "[scope]")),
        denials_before=scope_patterns("denials_before"),
        denials_after=scope_patterns("denials_after"),
        hedges=scope_patterns("hedges"),
        hedge_factor=_number(scope_table, "hedge_factor", 0.8, 0.0, 1.0, "[scope]"),
        hypotheticals=scope_patterns("hypotheticals"),
        hypothetical_window=int(_number(scope_table, "hypothetical_window", 6, 1, 30, "[scope]")),
        hypothetical_factor=_number(scope_table, "hypothetical_factor", 0.3, 0.0, 1.0, "[scope]"),
    )

    raw_themes = data.get("themes")
    if not isinstance(raw_themes, list) or not raw_themes:
        raise TaxonomyError("the taxonomy needs at least one [[themes]] entry")
    themes: list[Theme] = []
    patterns: list[Pattern] = []
    absent: list[Pattern] = []
    for index, raw in enumerate(raw_themes):
        table = _table(raw, f"[[themes]] number {index + 1}")
        theme_id = table.get("id")
        if not isinstance(theme_id, str) or not _THEME_ID.match(theme_id):
            raise TaxonomyError(f"[[themes]] number {index + 1}: id must match [a-z][a-z0-9_]*")
        if theme_id in {t.id for t in themes}:
            raise TaxonomyError(f"theme {theme_id} is defined twice")
        where = f"theme {theme_id}"
        label, description = table.get("label"), table.get("description")
        if not isinstance(label, str) or not label.strip():
            raise TaxonomyError(f"{where}: label must be a non-empty string")
        if not isinstance(description, str) or not description.strip():
            raise TaxonomyError(f"{where}: description must be a non-empty string")
        weight = _number(table, "weight", 0.85, 0.01, 1.0, where)
        weak_weight = _number(table, "weak_weight", 0.35, 0.01, 1.0, where)
        strong = _strings(table, "patterns", where)
        weak = _strings(table, "weak", where)
        absent.extend(compiler.pattern(p, theme_id, 1.0, where) for p in _strings(table, "absent", where))
        if not strong and not weak:
            raise TaxonomyError(f"{where}: needs at least one pattern")
        themes.append(Theme(theme_id, label.strip(), " ".join(description.split())))
        patterns.extend(compiler.pattern(p, theme_id, weight, where) for p in strong)
        patterns.extend(compiler.pattern(p, theme_id, weak_weight, where) for p in weak)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    classes = tuple((name, compiler.element("{" + name + "}", 0, f"[macros] {name}")) for name in macros)
    return Taxonomy(tuple(themes), tuple(patterns), scope, threshold, digest, stemmer, classes, tuple(absent))


def load_taxonomy(path: Path | str | None = None, *, stemmer: Stemmer | None = None) -> Taxonomy:
    """The taxonomy in the TOML file at ``path`` (default `DEFAULT_TAXONOMY`); TaxonomyError if unusable."""
    file = Path(path) if path is not None else DEFAULT_TAXONOMY
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise TaxonomyError(f"cannot read taxonomy {file}: {e.strerror}") from e
    return parse_taxonomy(text, stemmer=stemmer)
