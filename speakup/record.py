"""The case record: everything said or recorded about a concern apart from its text, sealed.

The reporter's answers (kind, site, month, how they raised it, professional group, ethnicity,
consent to quote, excluded guardians), what the theme engine and guardians recorded (themes,
tone, no-theme review, National Guardian's Office fields), the number of messages in the thread
and of files (so a message or file removed by a database writer is noticed) and the equality
facts last written to the unlinkable equality record (so a correction can cancel them exactly, see
`speakup.analytics`). Stored as JSON sealed under the concern key (`Concern.record_sealed`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any


@dataclass(frozen=True)
class CaseTheme:
    """A theme on a case: ``source`` engine or guardian; ``status`` suggested, confirmed or
    removed (by a guardian). The reviewed ones are what retraining learns from."""

    theme_id: str
    source: str = "engine"
    status: str = "suggested"
    score: float | None = None


@dataclass(frozen=True)
class NgoRecord:
    raised: str | None = None
    elements: tuple[str, ...] = ()
    professional_group: str | None = None
    speak_up_again: str | None = None


@dataclass(frozen=True)
class CaseRecord:
    kind: str = ""
    identity_mode: str = "anonymous"
    site: str | None = None
    happened_month: str | None = None
    professional_group: str | None = None
    ethnicity: str | None = None
    quote_consent: bool = False
    excluded: tuple[int, ...] = ()
    tone: float | None = None
    themes: tuple[CaseTheme, ...] = ()
    themes_failed: bool = False
    no_theme_on: date | None = None
    ngo: NgoRecord = field(default_factory=NgoRecord)
    messages: int = 0
    attachments: int = 0
    equality: dict[str, Any] | None = None

    def with_themes(self, themes: tuple[CaseTheme, ...], **changes: Any) -> CaseRecord:
        return replace(self, themes=themes, **changes)

    @property
    def counted_themes(self) -> tuple[str, ...]:
        """The themes that count for the case (not removed), in the record's order."""
        return tuple(t.theme_id for t in self.themes if t.status != "removed")

    @property
    def reviewed(self) -> bool:
        """Whether a guardian reviewed the themes (a labelled example for retraining)."""
        return self.no_theme_on is not None or any(
            t.status in ("confirmed", "removed") or t.source == "guardian" for t in self.themes)


def dumps(record: CaseRecord) -> bytes:
    data = asdict(record)
    data["no_theme_on"] = record.no_theme_on.isoformat() if record.no_theme_on else None
    return json.dumps(data, separators=(",", ":")).encode()


def loads(raw: bytes) -> CaseRecord:
    data = json.loads(raw)
    ngo = data.pop("ngo", None) or {}
    themes = data.pop("themes", None) or []
    no_theme = data.pop("no_theme_on", None)
    known = set(CaseRecord.__dataclass_fields__)
    return CaseRecord(
        **{k: (tuple(v) if k == "excluded" else v) for k, v in data.items() if k in known},
        themes=tuple(CaseTheme(**t) for t in themes),
        no_theme_on=date.fromisoformat(no_theme) if no_theme else None,
        ngo=NgoRecord(**{**ngo, "elements": tuple(ngo.get("elements", ()))}),
    )
