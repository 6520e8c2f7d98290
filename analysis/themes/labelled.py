"""Labelled comments: what guardians confirmed, removed or added, as training and test data.

A labelled CSV has columns ``id``, ``text`` and ``themes`` (theme ids separated by ``|``, empty
for none) and optionally ``split`` (``dev`` or ``heldout``; other values are kept as given) and
``source`` (where the text comes from: a report, forum thread or writer; cross-validation and
bootstrap intervals keep each source's rows together).
Rows without a split are assigned one by `split_of`: a fixed hash of the id puts one row in five
into ``heldout``, so a file gets the same split on every machine and every run.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from analysis.themes.errors import LabelledDataError

HELDOUT: Final = "heldout"
DEV: Final = "dev"
_FIELD_LIMIT: Final = 1 << 24


@dataclass(frozen=True)
class LabelledExample:
    """One comment and the themes a person assigned to it (an empty set: no theme)."""

    id: str
    text: str
    themes: frozenset[str]
    split: str = DEV
    source: str = ""


def split_of(example_id: str) -> str:
    """``heldout`` for about one id in five (by SHA-256 of the id), else ``dev``; deterministic."""
    digest = hashlib.sha256(example_id.encode("utf-8")).digest()
    return HELDOUT if digest[0] % 5 == 0 else DEV


def allow_large_fields() -> None:
    """Let the csv module read fields up to 16 MiB (its default limit is 128 KiB)."""
    csv.field_size_limit(min(_FIELD_LIMIT, sys.maxsize))


def parse_labelled(stream: TextIO, *, known_themes: Collection[str] | None = None,
                   source: str = "input") -> Iterator[LabelledExample]:
    """Labelled examples from CSV text, row by row; LabelledDataError on the first bad row.

    Bad rows: missing ``id``/``text``/``themes`` columns, an empty or repeated id, or (when
    ``known_themes`` is given) a theme id not in it.
    """
    allow_large_fields()
    reader = csv.DictReader(stream)
    missing = {"id", "text", "themes"} - set(reader.fieldnames or ())
    if missing:
        raise LabelledDataError(f"{source}: missing column(s) {', '.join(sorted(missing))}")
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        example_id = (row.get("id") or "").strip()
        if not example_id or example_id in seen:
            raise LabelledDataError(f"{source} line {line}: id is empty or repeated")
        seen.add(example_id)
        themes = frozenset(t.strip() for t in (row.get("themes") or "").split("|") if t.strip())
        if known_themes is not None and not themes <= set(known_themes):
            unknown = ", ".join(sorted(themes - set(known_themes)))
            raise LabelledDataError(f"{source} line {line}: unknown theme(s) {unknown}")
        split = (row.get("split") or "").strip() or split_of(example_id)
        origin = (row.get("source") or "").strip()
        yield LabelledExample(example_id, row.get("text") or "", themes, split, origin)


def read_labelled(path: Path | str, *, known_themes: Collection[str] | None = None) -> list[LabelledExample]:
    """Every example in the labelled CSV file at ``path`` (see `parse_labelled`)."""
    file = Path(path)
    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            return list(parse_labelled(stream, known_themes=known_themes, source=str(file)))
    except OSError as e:
        raise LabelledDataError(f"cannot read {file}: {e.strerror}") from e
    except (csv.Error, UnicodeDecodeError) as e:
        raise LabelledDataError(f"{file} is not a readable UTF-8 CSV file: {e}") from e


def in_split(examples: Iterable[LabelledExample], split: str) -> list[LabelledExample]:
    """The examples of one split."""
    return [e for e in examples if e.split == split]


def not_in_split(examples: Iterable[LabelledExample], split: str) -> list[LabelledExample]:
    """The examples of every other split."""
    return [e for e in examples if e.split != split]
