"""The equality record of concerns: what EDI figures are made from, unlinkable to any case.

Each concern contributes *facts*: the quarter and month it arrived (never the day), site,
professional group, ethnicity, kind, how it was raised, its counted themes with their scores,
its tone, and the redacted extract the reporter agreed could be quoted. No reference, no date,
no id that appears anywhere else. The facts are sealed to the organisation's analysis key
(`accounts.orgkeys`, opened only in an EDI lead's session) and written as an unlinkable record
(`core.unlinkable`, stream ``concerns``), so neither row order, ids, transaction ids nor a
live reader's timing ties them to the concern they came from.

Corrections
-----------
Guardians change a case's themes after it arrives. A correction must reach the figures without
linking the case to its facts, so nothing points from a case to its equality record, and
records are never updated or deleted. Instead the case's sealed record keeps the facts last
written (`CaseRecord.equality`), and a change writes a *correction record* ``{"minus": old,
"plus": new}``: figures are made from the net multiset of facts (every ``plus`` counts +1, every
``minus`` -1), which is exactly the current facts of every concern. Correction records go to
their own lane (`core.unlinkable.CORRECTION`), which settles only in batches of at least k
corrections and is never forced: a guardian's change is audited with its time and case, so a
correction settling alone, or as the only correction among new concerns, could be paired with
the case by someone who can read both the audit log and the equality records. Until k
corrections are waiting, the figures show the engine's first reading of those concerns (the
summary page says figures can lag corrections). Only theme changes make corrections; a
guardian confirming a suggested theme changes no fact.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy.orm import Session

from accounts import orgkeys
from config.settings import Settings
from core import unlinkable
from core.db import today
from core.encryption import pad, unpad
from equality import summary_cache

STREAM: Final = "concerns"
_PURPOSE: Final = "concern-facts"


def quarter_of(day: date) -> str:
    """NHS financial-year quarter, e.g. ``2026/27 Q3`` for November 2026."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}/{str(start + 1)[2:]} Q{(day.month - 4) % 12 // 3 + 1}"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True)
class Facts:
    """One concern's contribution to equality figures."""

    quarter: str
    month: str
    site: str | None
    professional_group: str | None
    ethnicity: str | None
    kind: str
    raised: str
    themes: Mapping[str, float]
    tone: float | None
    quote: str | None

    def to_json(self) -> dict[str, Any]:
        return {"quarter": self.quarter, "month": self.month, "site": self.site,
                "professional_group": self.professional_group, "ethnicity": self.ethnicity,
                "kind": self.kind, "raised": self.raised, "themes": dict(sorted(
                    self.themes.items())), "tone": self.tone, "quote": self.quote}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Facts:
        return cls(data["quarter"], data["month"], data.get("site"),
                   data.get("professional_group"), data.get("ethnicity"), data.get("kind", ""),
                   data.get("raised", ""), dict(data.get("themes", {})), data.get("tone"),
                   data.get("quote"))


def facts_for(*, received_on: date, site: str | None, professional_group: str | None,
              ethnicity: str | None, kind: str, raised: str, themes: Mapping[str, float],
              tone: float | None, quote: str | None) -> Facts:
    return Facts(quarter_of(received_on), month_of(received_on), site or None,
                 professional_group or None, ethnicity or None, kind, raised,
                 {t: round(s, 4) for t, s in themes.items()}, tone, quote)


def _write(db: Session, settings: Settings, body: Mapping[str, Any], lane: str) -> None:
    # Padded first, so every sealed fact has one size whatever its quote's length.
    sealed = orgkeys.seal_for_analysis(
        db, settings, pad(json.dumps(body, separators=(",", ":"), sort_keys=True).encode(),
                          minimum=2048), purpose=_PURPOSE)
    unlinkable.add(db, stream=STREAM, payload=sealed, settings=settings, lane=lane)


def record_new(db: Session, *, facts: Facts, settings: Settings) -> dict[str, Any]:
    """Write a new concern's facts; returns them as stored (kept in the case record)."""
    stored = facts.to_json()
    _write(db, settings, {"plus": stored}, unlinkable.NEW)
    if facts.quarter != quarter_of(today()):
        # A concern dated in a quarter that has ended (an import, the demo): the summaries
        # kept for the ended quarters no longer hold.
        summary_cache.invalidate(db, source=summary_cache.CONCERNS)
    return stored


def record_correction(db: Session, *, old: Mapping[str, Any] | None, new: Facts,
                      settings: Settings) -> dict[str, Any]:
    """Replace a concern's facts ``old`` (as kept in its case record) with ``new``; returns the
    new ones as stored. Nothing is written if they are the same."""
    stored = new.to_json()
    if old == stored:
        return stored
    body: dict[str, Any] = {"plus": stored}
    if old is not None:
        body["minus"] = dict(old)
    _write(db, settings, body, unlinkable.CORRECTION)
    # The kept themed summaries are made again on their next view: they then count this
    # correction once its lane has settled (until then the figures are the same as before).
    summary_cache.invalidate(db, source=summary_cache.CONCERNS)
    return stored


def current_facts(db: Session, *, analysis_private: bytes, settings: Settings,
                  settle: bool = True) -> list[Facts]:
    """Every concern's current facts (the net of all settled records), for an EDI lead's
    session. ``settle`` first settles the new-concern lane (padded), so concerns of a complete
    quarter still pending are counted; corrections settle only as described above."""
    if settle:
        unlinkable.settle(db, stream=STREAM, settings=settings, lanes=(unlinkable.NEW,),
                          force=True)
    net: Counter[str] = Counter()
    for blob in unlinkable.read(db, stream=STREAM, settings=settings):
        body = json.loads(unpad(orgkeys.open_for_analysis(analysis_private, blob,
                                                          purpose=_PURPOSE)))
        net[json.dumps(body["plus"], sort_keys=True)] += 1
        if "minus" in body:
            net[json.dumps(body["minus"], sort_keys=True)] -= 1
    out: list[Facts] = []
    for key, count in sorted(net.items()):
        out.extend(Facts.from_json(json.loads(key)) for _ in range(max(0, count)))
    return out


def quarters_with_facts(facts: Sequence[Facts]) -> list[str]:
    return sorted({f.quarter for f in facts})
