"""Themed summaries are made once per closed period and kept sealed to the analysis key; a
guardian's theme correction forgets them. Survey summaries count against the people who wrote
a comment and list the most mentioned themes first."""

from __future__ import annotations

import re
import zlib

from sqlalchemy import func, select

from accounts import orgkeys
from core.encryption import DecryptionError, generate_keypair, open_sealed, server_key
from equality import themes
from equality.summary_cache import CachedSummary
from speakup import analytics
from tests.conftest import analysis_key
from tests.equality.test_results_pages import _tables
from tests.equality.test_theme_summaries import (
    PHRASE,
    Q2,
    RACISM,
    _csv,
    _get,
)
from tests.equality.test_theme_summaries import concerns as concerns  # the fixture, by name
from tests.equality.test_theme_summaries import survey_id as survey_id  # the fixture, by name


def _kept(database, source: str = "concerns") -> list[bytes]:
    with database.session() as db:
        return list(db.scalars(select(CachedSummary.sealed).where(
            CachedSummary.source == source)))


def test_a_closed_quarter_is_summarised_once_then_read_back_sealed(
        edi, edi_staff, concerns, database, settings, monkeypatch) -> None:
    first = _get(edi, f"?quarter={Q2}&by=site")
    kept = _kept(database)
    assert len(kept) == 2  # the list of quarters, and this view
    # Sealed to the analysis key: no quote or phrase in the clear, and neither the staff
    # secret nor any other key opens it; an EDI lead's key does.
    for blob in kept:
        assert PHRASE.encode() not in blob and b"racist" not in blob
        for purpose in ("records", "theme-summary", "org-key-bootstrap"):
            try:
                open_sealed(server_key(settings.staff_secret, purpose), blob, context=b"")
            except DecryptionError:
                pass
            else:
                raise AssertionError(f"opened with the staff secret ({purpose})")
        try:
            orgkeys.open_for_analysis(generate_keypair().private, blob, purpose="theme-summary")
        except DecryptionError:
            pass
        else:
            raise AssertionError("opened with a stranger's key")
    key = analysis_key(database, settings, edi_staff)
    assert any(PHRASE.encode() in zlib.decompress(
        orgkeys.open_for_analysis(key, blob, purpose="theme-summary")) for blob in kept)

    # When the same view is asked again, nothing is opened or tagged again
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the kept summary should have been used")

    monkeypatch.setattr(analytics, "current_facts", refuse)
    monkeypatch.setattr(themes, "concern_summary", refuse)
    monkeypatch.setattr(themes, "_quote_text", refuse)
    again = _get(edi, f"?quarter={Q2}&by=site")
    # The same page, but for the form's signed token, which carries the second it was made
    token = re.compile(r'value="[\w-]+\.[\w-]+\.[\w-]+"')
    assert token.sub("", again) == token.sub("", first)


def test_a_theme_correction_forgets_the_kept_summaries(edi, edi_staff, concerns, database,
                                                      settings) -> None:
    caption = f"Number of concerns mentioning each theme, quarter {Q2}"
    [before] = _tables(_get(edi, f"?quarter={Q2}"), caption)
    assert _kept(database)
    key = analysis_key(database, settings, edi_staff)
    with database.session() as db:
        facts = analytics.current_facts(db, analysis_private=key, settings=settings)
        racism = [f for f in facts if RACISM in f.themes and f.quarter == Q2]
        # k guardians' corrections (the lane settles only in batches of k): racism removed
        for old in racism[:settings.batch_size]:
            new = analytics.Facts(**{**old.__dict__, "themes": {}})
            analytics.record_correction(db, old=old.to_json(), new=new, settings=settings)
    assert not _kept(database)
    [after] = _tables(_get(edi, f"?quarter={Q2}"), caption)
    label = next(row for row in before if row[1] not in ("0", "Concerns"))[0]
    assert dict(before)[label] != dict(after).get(label)


def test_survey_themes_have_a_denominator_and_most_mentioned_first(edi, survey_id,
                                                                   database) -> None:
    html = _get(edi, f"?source=survey-{survey_id}&wave=W1")
    [rows] = _tables(html, "Number of people mentioning each theme, wave W1")
    # 36 people wrote a comment in W1 (30 + 3 + 3)
    assert rows[1] == ["People who wrote a comment", "36"]
    counts = [row[1] for row in rows[2:]]
    shown = [int(c) for c in counts if c.isdigit()]
    assert shown == sorted(shown, reverse=True) and shown[0] == 30
    hidden_at = [i for i, c in enumerate(counts) if not c.isdigit()]
    assert all(i > len(shown) - 1 for i in hidden_at)  # hidden figures come last
    assert "out of the people who wrote a comment in wave W1 (36)" in html
    rows_csv = _csv(edi, f"?source=survey-{survey_id}&wave=W1")
    assert [r["people"] for r in rows_csv if r["theme"] == "(wrote a comment)"] == ["36"]
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(CachedSummary).where(
            CachedSummary.source == f"survey-{survey_id}")) == 1
