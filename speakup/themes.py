"""Themes of concerns: found when a concern arrives, reviewed by guardians, learnt from.

When a concern is submitted, the app's theme engine (`core.themes.engine`) reads its text
before it is sealed. Only the theme ids, their scores and the tone are recorded (in the sealed
case record), never the words that triggered them. With the reporter's consent a redacted
extract goes into the concern's equality facts, sealed to the analysis key (`speakup.analytics`).

On the case page the evidence is recomputed from the decrypted text, so it is never stored.
Guardians confirm, remove or add themes, or record that no theme applies; a concern with any
such review is a labelled example that `retrain` learns from, beside the development part of
the real-text corpus (`core.themes.real_corpus`); the new model is checked against the one in use
on the corpus's frozen held-out part. Retraining decrypts the guardian's reviewed cases in
memory only and keeps only features seen in several training texts, and the model is stored
sealed.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import StaffUser
from accounts.services import StaffIdentity
from analysis.themes.classifier import TrainingOptions, train
from analysis.themes.engine import ThemeEngine
from analysis.themes.errors import ThemeError
from analysis.themes.evaluation import Evaluation, ThemeCounts, evaluate_models
from analysis.themes.labelled import DEV, LabelledExample
from analysis.themes.redaction import redact
from config.settings import Settings
from core import audit
from core import themes as app_themes
from core.db import today as utc_today
from speakup import analytics, services
from speakup.models import Concern, ConcernGrant
from speakup.models import ThemeModel as StoredModel
from speakup.record import CaseRecord, CaseTheme

log = logging.getLogger("speakup.themes")

QUOTE_LIMIT: Final = 500
"""Characters of the redacted text kept as the consented quote extract (cut at a word)."""
MIN_REVIEWED: Final = 10
# Scores on fewer held-out extracts than this (overall), or fewer extracts with a theme (per
# theme), say too little to compare two models: the page says so instead of showing them as
# meaningful (1.00 before, 1.00 after on 2 extracts means nothing).
JUDGE_MIN_EXTRACTS: Final = 30
JUDGE_MIN_PER_THEME: Final = 10
"""Reviewed cases a guardian needs before retraining is allowed."""
MIN_FEATURE_TEXTS: Final = 3
"""A word or phrase is kept in a retrained model only if at least this many training texts
contain it (a word in one case and nowhere else is dropped), so a name or a detail from one
concern cannot end up in the model."""
CASE_WEIGHT: Final = 4.0
"""How much one reviewed case counts in retraining against one real extract of the corpus: the
trust's own concerns are the text the engine will read, and a few dozen of them must be able
to move a model fitted to 1,552 extracts."""
DECISIONS: Final = ("confirmed", "removed")


# --- when a concern arrives -------------------------------------------------------------------


@dataclass(frozen=True)
class NewConcernThemes:
    """What is recorded about a new concern's themes: themes, tone and the consented quote
    extract (redacted), and whether the engine failed."""

    themes: tuple[CaseTheme, ...]
    tone: float | None
    quote: str | None
    failed: bool = False


def quote_extract(text: str, limit: int = QUOTE_LIMIT) -> str:
    """The first ``limit`` characters or so of the redacted text, on one line, cut at a word.

    The text is redacted before it is cut, so a name cannot escape redaction by being cut short.
    """
    redacted = " ".join(redact(text).split())
    if len(redacted) <= limit:
        return redacted
    cut = redacted[:limit + 1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut[:limit]
    return cut.rstrip(" ,;:-") + "…"


def analyse_new_concern(db: Session, *, text: str, quote_consent: bool,
                        settings: Settings) -> NewConcernThemes:
    """Themes (ids and scores, status ``suggested``) and tone (one decimal; None for text that
    is not English) of a concern's text, and its redacted quote extract if the reporter
    consented (None otherwise).

    Never raises: a submission must not fail because of theme analysis. If the engine or the
    redaction fails, that part is left empty and ``failed`` is set, which the guardian sees on
    the case page. Nothing is logged: this runs for an anonymous reporter.
    """
    found: tuple[CaseTheme, ...] = ()
    tone: float | None = None
    failed = False
    try:
        tagged = app_themes.engine(db, settings).tag(text)
    # Deliberately broad: any failure of the engine only costs the themes.
    except Exception:
        failed = True
    else:
        found = tuple(CaseTheme(hit.theme, "engine", "suggested", round(hit.score, 4))
                      for hit in tagged.themes)
        tone = round(tagged.tone, 1) if tagged.english else None
    quote: str | None = None
    if quote_consent:
        try:
            quote = quote_extract(text) or None
        except Exception:  # a quote is optional; never store an unredacted one
            quote = None
    return NewConcernThemes(found, tone, quote, failed)


# --- the case page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeRow:
    """One theme on a case as a guardian sees it; ``evidence`` is recomputed, never stored."""

    theme_id: str
    label: str
    description: str
    status: str  # "suggested", "confirmed" or "removed"
    source: str  # "engine" or "guardian"
    score: float | None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseThemes:
    rows: list[ThemeRow]
    addable: list[tuple[str, str]] = field(default_factory=list)  # (id, label) not on the case


def _evidence(engine: ThemeEngine, text: str) -> dict[str, tuple[str, ...]]:
    """Per theme, the words of ``text`` that point to it: the engine's evidence for the themes
    it assigns, and the rule matches for the others (such as a theme a guardian added)."""
    analysis = engine.matcher.analyse(text)
    found = {theme: tuple(hits.evidence) for theme, hits in engine.matcher.match(analysis).items()}
    found.update((hit.theme, hit.evidence) for hit in engine.themes(text))
    return found


def case_themes(db: Session, *, case: services.CaseView, settings: Settings) -> CaseThemes:
    """The themes of an opened case, in taxonomy order with removed ones last, each with the
    evidence in the decrypted text; and the taxonomy's other themes, which can be added.

    If the engine fails, the themes are listed without evidence (the type is logged).
    """
    engine = app_themes.engine(db, settings)
    taxonomy = engine.taxonomy
    try:
        evidence = _evidence(engine, case.text)
    except Exception as e:  # the case must still open; evidence is a help, not the record
        log.warning("theme evidence failed (%s)", type(e).__name__)
        evidence = {}
    order = {theme_id: i for i, theme_id in enumerate(taxonomy.theme_ids)}
    rows: list[ThemeRow] = []
    for row in sorted(case.record.themes, key=lambda t: (t.status == "removed",
                                                         order.get(t.theme_id, len(order)))):
        known = row.theme_id in order
        theme = taxonomy.theme(row.theme_id) if known else None
        rows.append(ThemeRow(
            row.theme_id, theme.label if theme else row.theme_id,
            theme.description if theme else "This theme is no longer in the taxonomy.",
            row.status, row.source, row.score, evidence.get(row.theme_id, ())))
    present = {row.theme_id for row in case.record.themes}
    addable = [(t.id, t.label) for t in taxonomy.themes if t.id not in present]
    return CaseThemes(rows, addable)


def theme_choices(db: Session, *, settings: Settings) -> list[tuple[str, str]]:
    """Every theme of the taxonomy as (id, label), in taxonomy order."""
    return [(t.id, t.label) for t in app_themes.engine(db, settings).taxonomy.themes]


@dataclass(frozen=True)
class ThemeReview:
    theme_id: str
    label: str
    status: str
    added: bool


def _corrected(db: Session, old: CaseRecord, new: CaseRecord, settings: Settings) -> CaseRecord:
    """``new`` with its equality facts brought up to date: a change to the counted themes
    writes a correction record (`speakup.analytics`), nothing else does."""
    if old.equality is None or set(old.counted_themes) == set(new.counted_themes):
        return new
    previous = analytics.Facts.from_json(old.equality)
    scores = {t.theme_id: t.score or 0.0 for t in new.themes if t.status != "removed"}
    facts = replace(previous, themes={t: round(s, 4) for t, s in scores.items()})
    return replace(new, equality=analytics.record_correction(db, old=old.equality, new=facts,
                                                             settings=settings))


def review_theme(db: Session, *, identity: StaffIdentity, ref: str, theme_id: str, decision: str,
                 settings: Settings) -> ThemeReview:
    """Confirm or remove a theme on a case the guardian holds a grant for.

    Confirming a theme that is not on the case adds it (source ``guardian``, status
    ``confirmed``); confirming a removed one puts it back. Audited as ``case.theme`` with the
    detail ``theme_id:status``. A change to the themes that count sends a correction to the
    equality record. Raises `CaseNotFoundError` without a grant and `ConcernInvalidError` for an
    unknown theme or a decision other than `DECISIONS`.
    """
    if decision not in DECISIONS:
        raise services.ConcernInvalidError("Choose to confirm or remove the theme.", "decision")
    concern, key, case = services.granted_case(db, identity=identity, ref=ref)
    taxonomy = app_themes.engine(db, settings).taxonomy
    rows = list(case.themes)
    at = next((i for i, t in enumerate(rows) if t.theme_id == theme_id), None)
    added = False
    if at is None:
        if theme_id not in taxonomy.theme_ids:
            raise services.ConcernInvalidError("Choose a theme from the list.", "theme")
        if decision == "removed":
            raise services.ConcernInvalidError("That theme is not on this case.", "theme")
        rows.append(CaseTheme(theme_id, "guardian", "confirmed", None))
        added = True
    else:
        rows[at] = replace(rows[at], status=decision)
    changed = case.with_themes(tuple(rows), no_theme_on=(None if decision == "confirmed"
                                                         else case.no_theme_on))
    services.save_record(db, concern=concern, key=key,
                         case=_corrected(db, case, changed, settings))
    audit.record(db, actor=f"staff:{identity.user.id}", action="case.theme", target=f"case:{ref}",
                 detail=f"{theme_id}:{decision}")
    db.flush()
    label = taxonomy.theme(theme_id).label if theme_id in taxonomy.theme_ids else theme_id
    return ThemeReview(theme_id, label, decision, added)


def mark_no_theme(db: Session, *, identity: StaffIdentity, ref: str, settings: Settings,
                  on: date | None = None) -> int:
    """Record that no theme applies to a case the guardian holds a grant for.

    Every theme on the case that is not removed yet is removed (they stay listed as removed),
    and the record's ``no_theme_on`` is set to the day (``on``, default today in UTC): the case
    is then a reviewed example with no theme for `retrain`, even if the engine suggested
    nothing. Confirming or adding a theme afterwards clears it (`review_theme`). Audited as
    ``case.theme`` with the detail ``none:reviewed`` and the themes it removed
    (``none:reviewed removed=a,b``). Marking a case already marked changes nothing and is not
    audited again (a double click, a stale tab). Returns how many themes were removed. Raises
    `CaseNotFoundError` without a grant.
    """
    concern, key, case = services.granted_case(db, identity=identity, ref=ref)
    if case.no_theme_on is not None:
        return 0
    removed = sorted(t.theme_id for t in case.themes if t.status != "removed")
    changed = case.with_themes(tuple(replace(t, status="removed") for t in case.themes),
                               no_theme_on=on or utc_today())
    services.save_record(db, concern=concern, key=key,
                         case=_corrected(db, case, changed, settings))
    detail = "none:reviewed" + (f" removed={','.join(removed)}" if removed else "")
    audit.record(db, actor=f"staff:{identity.user.id}", action="case.theme", target=f"case:{ref}",
                 detail=detail)
    db.flush()
    return len(removed)


# --- retraining -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeComparison:
    """One theme's results on the real corpus's frozen held-out extracts, with the model before
    and after."""

    theme_id: str
    label: str
    before: ThemeCounts
    after: ThemeCounts

    @property
    def support(self) -> int:
        """Held-out extracts labelled with the theme."""
        return self.after.support


@dataclass(frozen=True)
class ModelInfo:
    """The supervised model in use: shipped with the app, or retrained by a guardian."""

    retrained: bool
    trained_at: datetime | str | None
    trained_by: str | None
    examples: int | None
    heldout: int | None = None
    macro_f1_before: float | None = None
    macro_f1_after: float | None = None
    comparison: list[ThemeComparison] = field(default_factory=list)
    corpus_rows: int | None = None
    """Real extracts (the corpus's development part) the model also learnt from."""


@dataclass(frozen=True)
class RetrainStatus:
    model: ModelInfo
    usable: int  # reviewed cases this guardian can open
    needed: int = MIN_REVIEWED


@dataclass(frozen=True)
class RetrainResult:
    stored: StoredModel
    before: Evaluation
    after: Evaluation
    retrained_themes: tuple[str, ...]


def _reviewed(db: Session, identity: StaffIdentity) -> list[tuple[Concern, CaseRecord]]:
    """Concerns this guardian holds a grant for with at least one reviewed theme, or on which
    a guardian recorded that no theme applies, oldest first (the order received, then the
    reference)."""
    found = []
    for concern in db.scalars(select(Concern).join(ConcernGrant)
                              .where(ConcernGrant.staff_id == identity.user.id)
                              .order_by(Concern.received_on, Concern.ref)):
        _concern, _key, case = services.granted_case(db, identity=identity, ref=concern.ref)
        if case.reviewed:
            found.append((concern, case))
    return found


def _comparison(metadata: dict[str, object], engine: ThemeEngine) -> list[ThemeComparison]:
    evaluation = metadata.get("evaluation")
    if not isinstance(evaluation, dict):
        return []
    before, after = evaluation.get("before"), evaluation.get("after")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    rows = []
    for theme in engine.taxonomy.themes:
        old, new = before.get(theme.id), after.get(theme.id)
        if isinstance(old, list) and isinstance(new, list) and (any(old) or any(new)):
            rows.append(ThemeComparison(theme.id, theme.label, ThemeCounts(*old), ThemeCounts(*new)))
    return rows


def _staff_name(db: Session, actor: str) -> str:
    kind, _, number = actor.partition(":")
    user = db.get(StaffUser, int(number)) if kind == "staff" and number.isdigit() else None
    return user.name if user is not None else actor


def retrain_status(db: Session, *, identity: StaffIdentity, settings: Settings) -> RetrainStatus:
    """The model in use (who retrained it, when, on how many cases and real extracts, and how it
    compared with the one before on the real corpus's held-out extracts) and how many reviewed
    cases this guardian could use."""
    engine = app_themes.engine(db, settings)
    newest = db.scalar(select(StoredModel).order_by(StoredModel.id.desc()).limit(1))
    metadata = engine.model.metadata if engine.model is not None else {}
    if newest is None:
        examples = metadata.get("examples")
        info = ModelInfo(False, str(metadata.get("trained_at") or "") or None, None,
                         examples if isinstance(examples, int) else None)
    else:
        heldout, corpus = metadata.get("heldout"), metadata.get("corpus_rows")
        info = ModelInfo(True, newest.created_at, _staff_name(db, newest.trained_by),
                         newest.examples, heldout if isinstance(heldout, int) else None,
                         newest.macro_f1_before, newest.macro_f1_after,
                         _comparison(metadata, engine), corpus if isinstance(corpus, int) else None)
    return RetrainStatus(info, len(_reviewed(db, identity)))


def _counts(evaluation: Evaluation) -> dict[str, list[int]]:
    return {t: [c.tp, c.fp, c.fn] for t, c in evaluation.counts.items()}


def retrain(db: Session, *, identity: StaffIdentity, settings: Settings) -> RetrainResult:
    """Retrain the engine's supervised layer on the real-text corpus and the reviewed cases this
    guardian can open, and check it on the corpus's frozen held-out part.

    Each reviewed case (see `_reviewed`) is decrypted in memory and labelled with its confirmed
    themes (engine suggestions a guardian confirmed, and themes a guardian added); a case on
    which a guardian recorded that no theme applies has none, a negative example. The training
    texts are the development rows of the real corpus (`core.themes.real_corpus`: what UK
    health staff said in public) and every reviewed case, each case counting `CASE_WEIGHT`
    times; only features seen in at least `MIN_FEATURE_TEXTS` training texts are kept.
    Training starts from the shipped model and is pulled towards it (`train`'s ``prior``), so
    what it learnt from the written comments stays unless the real text shows otherwise.
    Always from the shipped model, never from an earlier retrained one, so nothing learnt from
    cases this guardian cannot open, or from purged cases, is carried forward.

    The engine in use and the retrained one are both scored on the corpus's frozen
    ``heldout_real`` rows (only the figures are kept, per theme, in the model's metadata): a
    check on several hundred real extracts none of the models was trained on, not on a few of
    the guardian's own cases. The model is stored sealed (`core.themes.seal_model`) and
    audited, and from then on `core.themes.engine` uses it for new concerns.

    Raises `ConcernInvalidError` with fewer than `MIN_REVIEWED` reviewed cases, or if the real
    corpus cannot be read or the engine cannot learn from the texts.
    """
    concerns = _reviewed(db, identity)
    if len(concerns) < MIN_REVIEWED:
        raise services.ConcernInvalidError(
            f"Retraining needs at least {MIN_REVIEWED} cases with reviewed themes that you can "
            f"open; you have {len(concerns)}. Confirm, remove or add themes on more cases first, "
            "or record that no theme applies.")
    current = app_themes.engine(db, settings)
    shipped = app_themes.shipped_model()
    known = set(current.taxonomy.theme_ids)
    try:
        corpus, heldout = app_themes.real_corpus(current.taxonomy.theme_ids)
    except ThemeError as e:
        raise services.ConcernInvalidError(
            "The real-text corpus that retraining learns from and is checked on cannot be read. "
            "Ask the administrator to reinstall Speak Up.") from e
    cases = []
    for concern, case in concerns:
        text = services.open_case(db, identity=identity, ref=concern.ref).text
        labels = frozenset(t.theme_id for t in case.themes
                           if t.status == "confirmed" and t.theme_id in known)
        cases.append(LabelledExample(concern.ref, text, labels, DEV))
    try:
        model = train(corpus + cases, matcher=current.matcher, prior=shipped,
                      options=TrainingOptions(min_count=MIN_FEATURE_TEXTS),
                      weights=[1.0] * len(corpus) + [CASE_WEIGHT] * len(cases))
    except ThemeError as e:
        raise services.ConcernInvalidError("The theme engine could not learn from these cases. "
                                           "Review more cases and try again.") from e
    before, after = evaluate_models(current, [current.model, model], heldout)
    confirmed = Counter(t for e in cases for t in e.themes)
    model.metadata.update({
        "source": "guardian reviews and the real-text corpus", "cases": len(cases),
        "corpus_rows": len(corpus), "heldout": len(heldout),
        "cases_per_theme": {t: confirmed[t] for t in current.taxonomy.theme_ids},
        "evaluation": {"before": _counts(before), "after": _counts(after)},
    })
    stored = StoredModel(trained_by=f"staff:{identity.user.id}", examples=len(cases),
                         macro_f1_before=round(before.macro_f1, 4),
                         macro_f1_after=round(after.macro_f1, 4),
                         model_sealed=app_themes.seal_model(model, settings))
    db.add(stored)
    db.flush()
    audit.record(db, actor=f"staff:{identity.user.id}", action="themes.retrain",
                 target=f"theme-model:{stored.id}",
                 detail=f"examples={len(cases)} corpus={len(corpus)} heldout={len(heldout)} "
                        f"macro_f1={before.macro_f1:.3f}->{after.macro_f1:.3f}")
    return RetrainResult(stored, before, after, tuple(current.taxonomy.theme_ids))
